import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import {
  answerQuestionUpdate,
  approveTaskUpdate,
  cancelTaskUpdate,
  requestChangesUpdate,
} from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { hasPendingTaskStart } from '../../db/task-starts';
import { findTask, listTasks } from '../../db/tasks';
import type { TaskRecord } from '../../db/tasks';
import { CACHE } from '../../platform/cache-keys';
import type { ApiDeps } from '../deps';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { requireProjectFor } from '../projects/projects';
import { actorOf, maySeeProject, readableProjects, requireProjectAccess } from '../middleware/auth';
import type { Principal } from '../middleware/auth';
import type { Actor } from '../../contracts/actor';
import { ALL_PROJECTS } from '../../contracts/agent';
import { notStartedYet, updateError } from '../temporal-errors';
import { validate } from '../validate';
import {
  approveBody,
  cancelBody,
  createTaskBody,
  idParams,
  listTasksQuery,
  requestChangesBody,
  respondBody,
} from './schema';
import { executeTaskUpdate } from '../../platform/task-updates';
import { taskBatchRoutes } from './batch';
import {
  derivedTaskId,
  idempotencyKey,
  isSameTask,
  createTasks,
  newTaskInput,
  newTaskRecord,
} from './create';

/** What an unknown task answers, and a task in a project the caller may not know of. */
function taskNotFound(id: string): NotFoundError {
  return new NotFoundError(`task ${id} does not exist`);
}

/** Reads a task through the cache (none: undefined). */
function readTask(deps: ApiDeps, id: string): Promise<TaskRecord | undefined> {
  return deps.cache.read(
    {
      key: CACHE.task.key(id),
      generation: CACHE.task.generation(id),
      ttlSeconds: CACHE.task.ttlSeconds,
    },
    () => findTask(deps.db, id),
  );
}

/** Reads a task through the cache; 404 when there is none. */
export async function requireTask(deps: ApiDeps, id: string): Promise<TaskRecord> {
  const task = await readTask(deps, id);
  if (!task) throw taskNotFound(id);
  return task;
}

/**
 * Reads a task the principal may read or work on (`requireProjectAccess`). To a person who is
 * not a member of its project it does not exist: the same 404 as an unknown id.
 */
export async function requireTaskFor(
  deps: ApiDeps,
  principal: Principal,
  id: string,
  need: 'read' | 'work',
): Promise<TaskRecord> {
  const task = await requireTask(deps, id);
  requireProjectAccess(principal, task.projectId, need, () => taskNotFound(id));
  return task;
}

/**
 * Refuses (400, as for a task that does not exist) a page cursor that names a task the caller
 * may not read: `listTasks` would take any task's place in the order.
 */
async function requireReadableCursor(
  deps: ApiDeps,
  principal: Principal,
  after: string,
): Promise<void> {
  if (readableProjects(principal) === ALL_PROJECTS) return;
  const from = await readTask(deps, after);
  if (!from || !maySeeProject(principal, from.projectId)) throw noTask(after);
}

/** 400 for an `after` that names no task the caller may read. */
function noTask(after: string): ValidationError {
  return new ValidationError(`invalid query: after: there is no task ${after}`);
}

/** `/api/tasks`: create (starts the task's workflow), list, get, and the people's transitions. */
export function taskRoutes(deps: ApiDeps): Router {
  const router = Router();
  const client = deps.temporal.client;

  router.post('/tasks', async (req, res) => {
    const body = validate(createTaskBody, req.body, 'body');
    const key = idempotencyKey(req.headers['idempotency-key']);
    await requireProjectFor(deps, req.principal!, body.projectId, 'work');
    const actor = actorOf(req.principal!);
    const wanted = { ...body, priority: body.priority ?? 0 };
    // With a key, the same creation sent again (its answer was lost) finds the task it made;
    // a task found again is read back: it may have changed since it was created.
    const taskId = key ? derivedTaskId(actor, 'task', key, 0) : randomUUID();
    let task = key ? await findTask(deps.db, taskId) : undefined;
    if (!task) {
      const input = newTaskInput(deps, taskId, wanted, actor);
      const written = await createTasks(deps, [input]);
      // Not written: the same creation, sent twice at once, was written by the other request.
      task = written === 1 ? newTaskRecord(input) : await requireTask(deps, taskId);
    }
    if (!isSameTask(task, wanted)) {
      throw new ConflictError(
        `Idempotency-Key ${key} was used for another task (${taskId}); use a new key for a new task`,
      );
    }
    res.status(201).json({ taskId, status: task.state, ...task });
  });
  router.use(taskBatchRoutes(deps));

  router.get('/tasks', async (req, res) => {
    const { projectId, state, after, limit } = validate(listTasksQuery, req.query, 'query');
    if (projectId) await requireProjectFor(deps, req.principal!, projectId, 'read');
    if (after) await requireReadableCursor(deps, req.principal!, after);
    // Without a project: every task the caller may read (an administrator: all of them).
    const readable = readableProjects(req.principal!);
    const inProjects = projectId || readable === ALL_PROJECTS ? undefined : readable;
    const read = () =>
      listTasks(deps.db, { projectId, state, projectIds: inProjects }, { after, limit });
    // Every page of a project's list is cached under the project's generation.
    const tasks = projectId
      ? await deps.cache.read(
          {
            key: CACHE.taskList.key(projectId, { state, after, limit }),
            generation: CACHE.taskList.generation(projectId),
            ttlSeconds: CACHE.taskList.ttlSeconds,
          },
          read,
        )
      : await read();
    if (!tasks) throw noTask(after!);
    res.json({ tasks, next: tasks.length === limit ? tasks[tasks.length - 1]!.id : null });
  });

  router.get('/tasks/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    res.json(await requireTaskFor(deps, req.principal!, id, 'read'));
  });

  /** Sends one of the people's updates to the task's workflow and answers with the task as it now is. */
  const transition = (
    path: string,
    send: (body: unknown, handle: WorkflowHandle, actor: Actor) => Promise<unknown>,
  ) => {
    router.post(`/tasks/:id/${path}`, async (req, res) => {
      const { id } = validate(idParams, req.params, 'params');
      const before = await requireTaskFor(deps, req.principal!, id, 'work');
      try {
        await send(
          req.body,
          client.workflow.getHandle(taskWorkflowId(id)),
          actorOf(req.principal!),
        );
      } catch (err) {
        // No workflow, and its start still to do: it has not started yet (not ended).
        if (err instanceof WorkflowNotFoundError && (await hasPendingTaskStart(deps.db, id))) {
          throw notStartedYet();
        }
        throw updateError(err, () => before.state) ?? err;
      }
      res.json(await requireTask(deps, id));
    });
  };

  transition('respond', (body, handle, actor) => {
    const { answer, questionId } = validate(respondBody, body, 'body');
    return executeTaskUpdate(handle, answerQuestionUpdate, {
      answer,
      ...(questionId ? { questionId } : {}),
      actor,
    });
  });
  transition('approve', (body, handle, actor) => {
    validate(approveBody, body, 'body');
    return executeTaskUpdate(handle, approveTaskUpdate, { actor });
  });
  transition('request-changes', (body, handle, actor) => {
    const { feedback } = validate(requestChangesBody, body, 'body');
    return executeTaskUpdate(handle, requestChangesUpdate, { feedback, actor });
  });
  transition('cancel', (body, handle, actor) => {
    const { reason } = validate(cancelBody, body, 'body');
    return executeTaskUpdate(handle, cancelTaskUpdate, { ...(reason ? { reason } : {}), actor });
  });

  return router;
}
