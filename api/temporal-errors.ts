import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TRANSITION_REFUSED } from '../contracts/messages';
import { ConflictError, NotReadyError } from './errors';
import type { ApiError } from './errors';

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
  if (isUnavailable(err)) return new NotReadyError('Temporal is unreachable; try again shortly');
  return undefined;
}

function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: number } | null)?.code;
  return code === 14 /* UNAVAILABLE */ || code === 4; /* DEADLINE_EXCEEDED */
}
