import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { WorkflowHandle } from '@temporalio/client';
import {
  answerQuestionUpdate,
  approveTaskUpdate,
  cancelTaskUpdate,
  requestChangesUpdate,
} from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { isFinalState } from '../../contracts/task-state';
import { findTask, listTasks } from '../../db/tasks';
import type { TaskRecord } from '../../db/tasks';
import { CACHE } from '../../platform/cache-keys';
import type { ApiDeps } from '../deps';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { requireProject } from '../projects/projects';
import { actorOf, readableProjects, requireProjectAccess } from '../middleware/auth';
import type { Actor } from '../../contracts/actor';
import { ALL_PROJECTS } from '../../contracts/agent';
import { updateError } from '../temporal-errors';
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

/** Reads a task through the cache; 404 when there is none. */
export async function requireTask(deps: ApiDeps, id: string): Promise<TaskRecord> {
  const task = await deps.cache.read(
    {
      key: CACHE.task.key(id),
      generation: CACHE.task.generation(id),
      ttlSeconds: CACHE.task.ttlSeconds,
    },
    () => findTask(deps.db, id),
  );
  if (!task) throw new NotFoundError(`task ${id} does not exist`);
  return task;
}

/** `/api/tasks`: create (starts the task's workflow), list, get, and the people's transitions. */
export function taskRoutes(deps: ApiDeps): Router {
  const router = Router();
  const client = deps.temporal.client;

  router.post('/tasks', async (req, res) => {
    const body = validate(createTaskBody, req.body, 'body');
    const key = idempotencyKey(req.headers['idempotency-key']);
    await requireProject(deps, body.projectId);
    requireProjectAccess(req.principal!, body.projectId, 'work');
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
    // Without a project: every task the caller may read (an administrator: all of them).
    const readable = readableProjects(req.principal!);
    const inProjects = projectId || readable === ALL_PROJECTS ? undefined : readable;
    const read = () =>
      listTasks(deps.db, { projectId, state, projectIds: inProjects }, { after, limit });
    let tasks: TaskRecord[] | undefined;
    if (projectId) {
      await requireProject(deps, projectId);
      requireProjectAccess(req.principal!, projectId, 'read');
      // Every page of a project's list is cached under the project's generation.
      tasks = await deps.cache.read(
        {
          key: CACHE.taskList.key(projectId, { state, after, limit }),
          generation: CACHE.taskList.generation(projectId),
          ttlSeconds: CACHE.taskList.ttlSeconds,
        },
        read,
      );
    } else {
      tasks = await read();
    }
    if (!tasks) throw new ValidationError(`invalid query: after: there is no task ${after}`);
    res.json({ tasks, next: tasks.length === limit ? tasks[tasks.length - 1]!.id : null });
  });

  router.get('/tasks/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const task = await requireTask(deps, id);
    requireProjectAccess(req.principal!, task.projectId, 'read');
    res.json(task);
  });

  /** Sends one of the people's updates to the task's workflow and answers with the task as it now is. */
  const transition = (
    path: string,
    send: (body: unknown, handle: WorkflowHandle, actor: Actor) => Promise<unknown>,
  ) => {
    router.post(`/tasks/:id/${path}`, async (req, res) => {
      const { id } = validate(idParams, req.params, 'params');
      const before = await requireTask(deps, id);
      requireProjectAccess(req.principal!, before.projectId, 'work');
      try {
        await send(
          req.body,
          client.workflow.getHandle(taskWorkflowId(id)),
          actorOf(req.principal!),
        );
      } catch (err) {
        throw updateError(err, () => (isFinalState(before.state) ? before.state : null)) ?? err;
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
