import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { TASK_BATCH_BODY_LIMIT_BYTES } from '../../contracts/task';
import type { TaskBatchCreated } from '../../contracts/task';
import { findTaskContents } from '../../db/tasks';
import { extendWriteDeadline } from '../../platform/request-context';
import type { ApiDeps } from '../deps';
import { ConflictError } from '../errors';
import { jsonBody } from '../middleware/json-body';
import { actorOf, requirePerson, requireProjectAccess } from '../middleware/auth';
import { requireProject } from '../projects/projects';
import { validate } from '../validate';
import { createTasks, derivedTaskId, idempotencyKey, isSameTask, newTaskInput } from './create';
import type { NewTask } from './create';
import { createTaskBatchBody } from './schema';

/**
 * How long a batch may take before it is answered 503 `timed_out` (every other write: 10 s). A
 * batch that timed out is sent again with the same `Idempotency-Key` and goes on where it was.
 */
const TASK_BATCH_DEADLINE_MS = 120_000;

/**
 * Task workflows the batches of one API process start at once, all batches together: enough to
 * keep Temporal busy, few enough that one large batch does not crowd out everyone's creations.
 */
const BATCH_STARTS_AT_ONCE = 32;

/**
 * Parses the body of `POST /api/tasks/batch` with its larger limit; mounted before the API's own
 * parser. Only for people: an agent is refused before its body is read.
 */
export const taskBatchBody = Router().post(
  '/tasks/batch',
  requirePerson,
  jsonBody(TASK_BATCH_BODY_LIMIT_BYTES),
);

/** A fixed number of slots shared by every batch of the process; `run` waits for a free one. */
class Slots {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}

/** 409 for a batch whose key was used for other tasks. */
function keyReused(batchId: string, index: number): ConflictError {
  return new ConflictError(
    `Idempotency-Key ${batchId} was used for a batch with other tasks (task ${index} differs); ` +
      'use a new key for a new batch',
  );
}

/**
 * `POST /api/tasks/batch`: up to 1,000 tasks in one request, all checked before any is created,
 * all written into the read model in one transaction, answered once their workflows have started
 * (or, where Temporal was away, are left to the worker's sweep to start). Each task's id derives from the batch's id and
 * its position, so the same batch sent again (same `Idempotency-Key`) creates only what is
 * missing: a batch cut short (a timeout, a process that died) is finished by sending it again.
 */
export function taskBatchRoutes(deps: ApiDeps): Router {
  const router = Router();
  const slots = new Slots(BATCH_STARTS_AT_ONCE);

  router.post('/tasks/batch', async (req, res) => {
    extendWriteDeadline(TASK_BATCH_DEADLINE_MS);
    const body = validate(createTaskBatchBody, req.body, 'body');
    const key = idempotencyKey(req.headers['idempotency-key']);
    const tasks: NewTask[] = body.tasks.map((t) => ({
      projectId: (t.projectId ?? body.projectId)!,
      title: t.title,
      description: t.description,
      priority: t.priority ?? 0,
    }));
    for (const projectId of new Set(tasks.map((t) => t.projectId))) {
      await requireProject(deps, projectId);
      requireProjectAccess(req.principal!, projectId, 'work');
    }
    const actor = actorOf(req.principal!);
    const batchId = key ?? randomUUID();
    const taskIds = tasks.map((_, i) => derivedTaskId(actor, 'batch', batchId, i));

    // Tasks a previous attempt created are in the read model already: only the others start.
    const found = new Map((await findTaskContents(deps.db, taskIds)).map((t) => [t.id, t]));
    const missing: number[] = [];
    taskIds.forEach((taskId, i) => {
      const existing = found.get(taskId);
      if (!existing) missing.push(i);
      else if (!isSameTask(existing, tasks[i]!)) throw keyReused(batchId, i);
    });
    const inputs = missing.map((i) => newTaskInput(deps, taskIds[i]!, tasks[i]!, actor));
    const written = await createTasks(deps, inputs, (job) => slots.run(job));
    if (written < inputs.length) {
      // Some were written meanwhile by the same batch sent again at once: they must be the same.
      const now = new Map((await findTaskContents(deps.db, taskIds)).map((t) => [t.id, t]));
      taskIds.forEach((taskId, i) => {
        if (!isSameTask(now.get(taskId)!, tasks[i]!)) throw keyReused(batchId, i);
      });
    }
    const created: TaskBatchCreated = { batchId, taskIds };
    res.status(201).json(created);
  });

  return router;
}
