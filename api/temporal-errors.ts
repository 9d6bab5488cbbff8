import type { Client } from '@temporalio/client';
import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TRANSITION_REFUSED } from '../contracts/messages';
import { ConflictError, NotFoundError, NotReadyError } from './errors';
import type { ApiError } from './errors';
import { isTemporalUnreachable } from '../platform/failures';
import { withinRequestDeadline } from '../platform/request-context';

/**
 * Turns what the Temporal client threw for an update into the API's answer: a refused transition
 * is 409 with the workflow's own message (it names the current state); an update on a finished
 * workflow is 409 naming the final state; Temporal being unreachable is 503.
 */
export function updateError(err: unknown, finalState: () => string): ApiError | undefined {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === TRANSITION_REFUSED)
      return new ConflictError(cause.message);
    return undefined;
  }
  if (err instanceof WorkflowNotFoundError)
    return new ConflictError(`the task is ${finalState()} and can no longer change`);
  if (isTemporalUnreachable(err))
    return new NotReadyError('Temporal is unreachable; try again shortly');
  return undefined;
}

/** How long to wait before retrying a change to a task whose workflow the sweep has yet to start. */
const STARTING_RETRY_AFTER_SECONDS = 10;

/**
 * A change to a task whose workflow has not started yet (Temporal was away when the task was
 * created; the worker's sweep starts it within a minute): a 503 to retry.
 */
export function notStartedYet(): NotReadyError {
  return new NotReadyError(
    "the task's workflow has not started yet (it starts within a minute); try again shortly",
    STARTING_RETRY_AFTER_SECONDS,
  );
}

/** The ApplicationFailure a workflow failed with (its `type` says why), if it did. */
function failureOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : undefined;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/**
 * Records a change through the one-shot workflow that owns it (the API writes no table itself)
 * and answers the workflow's result. The workflow's refusals become the API's: failure types in
 * `refusals.notFound` answer 404, those in `refusals.conflict` 409, with the workflow's message.
 */
export async function recordThroughWorkflow<In, Out>(
  deps: { temporal: { client: Client }; taskQueue: string },
  workflowType: string,
  workflowId: string,
  input: In,
  refusals: { notFound: string[]; conflict: string[] },
): Promise<Out> {
  try {
    return await withinRequestDeadline(deps.temporal.client.connection, () =>
      deps.temporal.client.workflow.execute<(i: In) => Promise<Out>>(workflowType, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
      }),
    );
  } catch (err) {
    const failure = failureOf(err);
    if (failure?.type && refusals.notFound.includes(failure.type)) {
      throw new NotFoundError(failure.message);
    }
    if (failure?.type && refusals.conflict.includes(failure.type)) {
      throw new ConflictError(failure.message);
    }
    throw err;
  }
}
