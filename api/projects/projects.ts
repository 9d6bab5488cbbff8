import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { withinRequestDeadline } from '../../platform/request-context';
import { z } from 'zod';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createProjectBody, PROJECT_NAME_TAKEN, projectWorkflowId } from '../../contracts/project';
import type { NewProject, ProjectRecord } from '../../contracts/project';
import { DELIVERY_FAILED, DELIVERY_UNAVAILABLE } from '../../contracts/messages';
import { findProject, listProjects } from '../../db/projects';
import { findPullRequest } from '../../db/pull-requests';
import { projectGitUrl } from '../../platform/git-url';
import { CACHE } from '../../platform/cache-keys';
import type { ApiDeps } from '../deps';
import { ConflictError, NotFoundError, NotReadyError, ValidationError } from '../errors';
import { validate } from '../validate';
import { idParams } from '../tasks/schema';
import {
  projectNotFound,
  readableProjects,
  requireAdministrator,
  requireProjectAccess,
} from '../middleware/auth';
import type { Principal } from '../middleware/auth';
import { ALL_PROJECTS } from '../../contracts/agent';

/** `GET /api/projects?after=&limit=`: `after` is the last project of the previous page. */
const listProjectsQuery = z
  .object({
    after: z.string().uuid('expected a UUID').optional(),
    limit: z.coerce.number().int().min(1).max(500, 'at most 500').default(200),
  })
  .strict();

/** Reads a project through the cache; 404 when there is none. */
export async function requireProject(deps: ApiDeps, id: string): Promise<ProjectRecord> {
  const project = await deps.cache.read(
    {
      key: CACHE.project.key(id),
      generation: CACHE.project.generation(id),
      ttlSeconds: CACHE.project.ttlSeconds,
    },
    () => findProject(deps.db, id),
  );
  if (!project) throw projectNotFound(id);
  return project;
}

/**
 * Reads a project the principal may read or work on (`requireProjectAccess`). Access is checked
 * first: to a person who is not a member it does not exist, the same 404 as an unknown id.
 */
export async function requireProjectFor(
  deps: ApiDeps,
  principal: Principal,
  id: string,
  need: 'read' | 'work',
): Promise<ProjectRecord> {
  requireProjectAccess(principal, id, need);
  return await requireProject(deps, id);
}

/**
 * A project as people see it: its clone URL is the git gateway's (`api/git/`), like the one agents
 * get; the forge's own URL (a path on the worker's disk, or Gitea) stays inside aiworker.
 */
function present(deps: ApiDeps, project: ProjectRecord): ProjectRecord {
  return {
    ...project,
    cloneUrl: project.cloneUrl ? projectGitUrl(deps.publicUrl, project.id) : null,
  };
}

/** `/api/projects`: create (through a workflow), list, get. */
export function projectRoutes(deps: ApiDeps): Router {
  const router = Router();

  router.post('/projects', requireAdministrator, async (req, res) => {
    const body = validate(createProjectBody, req.body, 'body');
    const project: NewProject = {
      id: randomUUID(),
      name: body.name,
      repository: body.repository ?? { provider: 'local' },
      ...(body.preview ? { preview: body.preview } : {}),
    };
    try {
      const created = await withinRequestDeadline(deps.temporal.client.connection, () =>
        deps.temporal.client.workflow.execute<(p: NewProject) => Promise<ProjectRecord>>(
          'createProjectWorkflow',
          {
            workflowId: projectWorkflowId(project.id),
            taskQueue: deps.taskQueue,
            args: [project],
          },
        ),
      );
      res.status(201).json(present(deps, created));
    } catch (err) {
      const cause =
        err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : undefined;
      if (cause instanceof ApplicationFailure && cause.type === PROJECT_NAME_TAKEN)
        throw new ConflictError(cause.message);
      if (cause instanceof ApplicationFailure && cause.type === DELIVERY_FAILED)
        throw new ValidationError(`repository: ${cause.message}`);
      // The forge was away on every attempt: nothing was created, try again.
      if (cause instanceof ApplicationFailure && cause.type === DELIVERY_UNAVAILABLE)
        throw new NotReadyError(`repository: ${cause.message}`);
      throw err;
    }
  });

  router.get('/projects', async (req, res) => {
    const { after, limit } = validate(listProjectsQuery, req.query, 'query');
    // A person sees the projects they belong to, and nothing of the others (not even their ids).
    const readable = readableProjects(req.principal!);
    // A foreign project as the cursor is as unknown as one that does not exist.
    if (after && readable !== ALL_PROJECTS && !readable.includes(after)) throw noProject(after);
    const projects = await listProjects(
      deps.db,
      { after, limit },
      readable === ALL_PROJECTS ? undefined : readable,
    );
    if (!projects) throw noProject(after!);
    res.json({
      projects: projects.map((p) => present(deps, p)),
      next: projects.length === limit ? projects[projects.length - 1]!.id : null,
    });
  });

  router.get('/projects/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const project = await requireProjectFor(deps, req.principal!, id, 'read');
    res.json(present(deps, project));
  });

  /** A pull request of the local forge: its branches, state and diff summary. */
  router.get('/projects/:id/pulls/:number', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const { number } = validate(pullParams, req.params, 'params');
    await requireProjectFor(deps, req.principal!, id, 'read');
    const pr = await findPullRequest(deps.db, id, number);
    if (!pr) throw new NotFoundError(`project ${id} has no pull request ${number}`);
    const { headBranch, baseBranch, ...rest } = pr;
    res.json({ ...rest, head: headBranch, base: baseBranch });
  });

  return router;
}

/** 400 for an `after` that names no project the caller may read. */
function noProject(after: string): ValidationError {
  return new ValidationError(`invalid query: after: there is no project ${after}`);
}

const pullParams = z.object({
  id: z.string(),
  number: z.coerce
    .number({ error: 'expected a number' })
    .int()
    .min(1, 'expected 1 or more')
    .max(2_147_483_647, 'no pull request has a number that large'),
});
