import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DELIVERY_FAILED, DELIVERY_UNAVAILABLE, TRANSITION_REFUSED } from '../contracts/messages';
import type { TaskView } from '../contracts/task';
import type { TaskState } from '../contracts/task-state';
import type { Db } from '../db/client';
import { findTask } from '../db/tasks';

/**
 * Why an agent's call was refused, as a stable code in the result's `_meta["aiworker/error"]`
 * (README, "Connecting an agent"): clients branch on it, the message is for the model.
 */
export type AgentRefusalCode =
  | 'project_not_allowed'
  | 'unknown_task'
  | 'not_your_task'
  | 'task_ended'
  | 'transition_refused'
  | 'no_question';

/** An expected failure of an agent's call: becomes a tool result with `isError: true`. */
export class AgentRefusal extends Error {
  constructor(
    readonly code: AgentRefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/**
 * A delivery step that met an outage of the forge or the preview runtime on every attempt: the
 * agent may try it again shortly (`unavailable`). The message is aiworker's own.
 */
export class DeliveryUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryUnavailable';
  }
}

/** An update the task's workflow refused (its validator or handler), by failure type. */
export function isRefused(err: unknown, type = TRANSITION_REFUSED): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === type
  );
}

/** An update that found the task's workflow closed (cancelled or merged since it was read). */
export function isClosed(err: unknown): boolean {
  return (
    err instanceof WorkflowNotFoundError ||
    (err instanceof Error && /workflow execution already completed/i.test(err.message))
  );
}

/** What to tell an agent that calls on a task which has ended; null while the task is open. */
export function endedMessage(taskId: string, state: TaskState | undefined): string | null {
  if (state === 'cancelled')
    return `task ${taskId} was cancelled: stop working on it and take another with get_next_task`;
  if (state === 'staging')
    return `task ${taskId} is merged to staging; nothing more to do on it (take another with get_next_task)`;
  return null;
}

/**
 * What an agent is told when its task's workflow did not take a change: a refusal by the
 * workflow, or a workflow that closed meanwhile, becomes an AgentRefusal (the task ended, if it
 * did); anything else is not a refusal and is returned as it is.
 */
export async function refusalOf(
  db: Db,
  taskId: string,
  handle: WorkflowHandle,
  err: unknown,
): Promise<unknown> {
  if (isRefused(err, DELIVERY_UNAVAILABLE)) {
    return new DeliveryUnavailable((err as WorkflowUpdateFailedError).cause!.message);
  }
  if (isRefused(err, TRANSITION_REFUSED) || isRefused(err, DELIVERY_FAILED)) {
    return (
      (await endedRefusal(db, taskId)) ??
      new AgentRefusal('transition_refused', (err as WorkflowUpdateFailedError).cause!.message)
    );
  }
  if (isClosed(err)) {
    return (
      (await endedRefusal(db, taskId, handle)) ??
      new AgentRefusal(
        'task_ended',
        `task ${taskId} has ended and can no longer change; take another with get_next_task`,
      )
    );
  }
  return err;
}

/**
 * The refusal for a task that was cancelled or merged, if it was. A closed workflow has
 * projected its last change before closing, but a read model restored from a backup may lag:
 * then the workflow's own last view decides.
 */
async function endedRefusal(
  db: Db,
  taskId: string,
  closed?: WorkflowHandle,
): Promise<AgentRefusal | null> {
  let state = (await findTask(db, taskId).catch(() => null))?.state;
  if (closed && !endedMessage(taskId, state)) {
    state = await closed.result().then(
      (view: TaskView) => view.state,
      () => state,
    );
  }
  const message = endedMessage(taskId, state);
  return message ? new AgentRefusal('task_ended', message) : null;
}
