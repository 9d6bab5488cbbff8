import { createHash } from 'node:crypto';
import type { Actor } from '../../contracts/actor';
import { newTaskView } from '../../contracts/task';
import type { TaskRecord, TaskWorkflowInput } from '../../contracts/task';
import { taskRowFields } from '../../db/tasks';
import { insertNewTasks } from '../../db/task-starts';
import { bumpGenerations } from '../../platform/cache-keys';
import { currentRequest, withinRequestDeadline } from '../../platform/request-context';
import { startTaskWorkflow, taskWorkflowStartOptions } from '../../platform/task-start';
import type { ApiDeps } from '../deps';
import { ValidationError } from '../errors';

/** What a new task is made of: one valid item of `POST /api/tasks` or of a batch. */
export interface NewTask {
  projectId: string;
  title: string;
  description: string;
  priority: number;
}

/** The input of a new task's workflow, created now (or at `createdAt`). */
export function newTaskInput(
  deps: Pick<ApiDeps, 'questionReminderMs' | 'leaseMs'>,
  taskId: string,
  task: NewTask,
  actor: Actor,
  createdAt = new Date(),
): TaskWorkflowInput {
  return {
    task: { id: taskId, ...task },
    reminderAfterMs: deps.questionReminderMs,
    leaseMs: deps.leaseMs,
    actor,
    createdAt: createdAt.toISOString(),
  };
}

/** How a new task's workflow is started (its id, queue, input and first search attributes). */
export function taskWorkflowStart(
  deps: Pick<ApiDeps, 'taskQueue' | 'questionReminderMs' | 'leaseMs'>,
  taskId: string,
  task: NewTask,
  actor: Actor,
) {
  return taskWorkflowStartOptions(deps.taskQueue, newTaskInput(deps, taskId, task, actor));
}

/**
 * Creates tasks: writes them into the read model with their workflow starts still to do (one
 * transaction: from then on they exist, and a `GET` finds them), then starts their workflows,
 * `startsAtOnce` at a time. A start that fails (Temporal away, the request's deadline reached) is
 * logged and left to the worker's sweep, which makes it within a minute or so; the tasks are
 * created either way. Answers how many of the tasks were written: fewer when some ids were taken
 * already (the same creation sent twice at once).
 */
export async function createTasks(
  deps: Pick<ApiDeps, 'db' | 'redis' | 'temporal' | 'taskQueue' | 'logger'>,
  inputs: TaskWorkflowInput[],
  startsAtOnce: <T>(job: () => Promise<T>) => Promise<T> = (job) => job(),
): Promise<number> {
  const written = await insertNewTasks(deps.db, inputs);
  // The projects' cached task lists are out of date now (the tasks' own are not cached yet).
  for (const projectId of new Set(inputs.map((i) => i.task.projectId))) {
    await bumpGenerations(deps.redis, { projectId }).catch(() => undefined);
  }
  const client = deps.temporal.client;
  let failures = 0;
  let failure = '';
  await Promise.all(
    inputs.map((input) =>
      startsAtOnce(async () => {
        if (failures > 0) return; // Temporal is away: the sweep starts the rest
        try {
          await withinRequestDeadline(client.connection, () =>
            startTaskWorkflow(client, deps.taskQueue, input),
          );
        } catch (err) {
          failures++;
          failure = (err as Error).message;
        }
      }),
    ),
  );
  if (failures > 0) {
    (currentRequest()?.logger ?? deps.logger).warn(
      { tasks: inputs.length, err: failure },
      'task workflows not started yet: the worker starts them at its next sweep',
    );
  }
  return written;
}

/**
 * The read model's record of a task just created: exactly what `createTasks` wrote, so the answer
 * to a creation needs no read back.
 */
export function newTaskRecord(input: TaskWorkflowInput): TaskRecord {
  const view = newTaskView(input, new Date(input.createdAt!));
  return {
    id: view.id,
    projectId: view.projectId,
    ...taskRowFields(view),
    createdAt: view.createdAt,
    updatedAt: view.createdAt,
    questions: [],
    stuck: null,
  };
}

/** Whether a task found under a creation's id is the one that creation asks for. */
export function isSameTask(found: NewTask, wanted: NewTask): boolean {
  return (
    found.projectId === wanted.projectId &&
    found.title === wanted.title &&
    found.description === wanted.description &&
    found.priority === wanted.priority
  );
}

/** An `Idempotency-Key`: up to 200 visible ASCII characters (a UUID is a good one). */
const IDEMPOTENCY_KEY = /^[!-~]{1,200}$/;

/** The request's `Idempotency-Key` header, if it sent one; 400 for one that is not usable. */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new ValidationError(
      'invalid header: Idempotency-Key: expected 1 to 200 visible ASCII characters, sent once',
    );
  }
  return header;
}

/**
 * The id of the task that a creation with an idempotency key makes: the same for the same caller,
 * route, key and position in the request, so a creation sent again finds the task it made
 * instead of making another. A UUID of version 8 (RFC 9562: custom) from a SHA-256 of those.
 */
export function derivedTaskId(
  caller: Actor,
  route: 'task' | 'batch',
  key: string,
  index: number,
): string {
  const hash = createHash('sha256')
    .update([caller.kind, caller.id, route, key, String(index)].join('\n'))
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
