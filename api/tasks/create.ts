import { createHash } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Actor } from '../../contracts/actor';
import { projectionSyncedUpdate, TASK_RESTARTING } from '../../contracts/messages';
import { projectIdKey, taskStateKey } from '../../contracts/search-attributes';
import { taskWorkflowId } from '../../contracts/task';
import type { TaskRecord, TaskView, TaskWorkflowInput } from '../../contracts/task';
import { taskRowFields } from '../../db/tasks';
import { withinRequestDeadline } from '../../platform/request-context';
import type { taskWorkflow } from '../../workflows/task';
import type { ApiDeps } from '../deps';
import { ValidationError } from '../errors';

/** What a new task is made of: one valid item of `POST /api/tasks` or of a batch. */
export interface NewTask {
  projectId: string;
  title: string;
  description: string;
  priority: number;
}

/** How a task workflow is started: its id, queue, input and first search attributes. */
export function taskWorkflowStart(
  deps: Pick<ApiDeps, 'taskQueue' | 'questionReminderMs' | 'leaseMs'>,
  taskId: string,
  task: NewTask,
  actor: Actor,
) {
  const input: TaskWorkflowInput = {
    task: { id: taskId, ...task },
    reminderAfterMs: deps.questionReminderMs,
    leaseMs: deps.leaseMs,
    actor,
  };
  return {
    workflowId: taskWorkflowId(taskId),
    taskQueue: deps.taskQueue,
    args: [input] as [TaskWorkflowInput],
    typedSearchAttributes: [
      { key: taskStateKey, value: 'backlog' },
      { key: projectIdKey, value: task.projectId },
    ],
  };
}

/**
 * Starts a task's workflow and waits until the task is in the read model, in one round trip
 * (update-with-start: the workflow's first workflow task projects the task and answers), so a
 * `GET` right after finds it. A workflow that exists already (a creation sent again) is not
 * started twice: the update reaches it, or, when it has ended, nothing is sent. Answers the
 * task as its workflow holds it, or undefined when it has ended or is continuing as new (its
 * creation is in the read model then).
 */
export async function startTaskWorkflow(
  deps: Pick<ApiDeps, 'temporal' | 'taskQueue' | 'questionReminderMs' | 'leaseMs'>,
  taskId: string,
  task: NewTask,
  actor: Actor,
): Promise<TaskView | undefined> {
  const client = deps.temporal.client;
  try {
    return await withinRequestDeadline(client.connection, () =>
      client.workflow.executeUpdateWithStart(projectionSyncedUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation<typeof taskWorkflow>(
          'taskWorkflow',
          {
            ...taskWorkflowStart(deps, taskId, task, actor),
            workflowIdConflictPolicy: 'USE_EXISTING',
            // A task whose workflow has ended (cancelled, staged) is never started again.
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          },
        ),
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    if (
      err instanceof WorkflowUpdateFailedError &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === TASK_RESTARTING
    ) {
      return undefined;
    }
    throw err;
  }
}

/**
 * The read model's record of a task whose creation was just projected, from its workflow's view:
 * a new task's row holds exactly that (db/tasks.ts stores its `updatedAt` as its `createdAt`), so
 * the answer to a creation needs no read back.
 */
export function newTaskRecord(view: TaskView): TaskRecord {
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
