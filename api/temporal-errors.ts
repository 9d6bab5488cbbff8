import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TRANSITION_REFUSED } from '../contracts/messages';
import { ConflictError, NotReadyError } from './errors';
import type { ApiError } from './errors';
import { isTemporalUnreachable } from './middleware/errors';

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

/** The ApplicationFailure a workflow failed with (its `type` says why), if it did. */
export function failureOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : undefined;
  return cause instanceof ApplicationFailure ? cause : undefined;
}
