import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { TASK_RESTARTING } from '../contracts/messages';

/**
 * How often an update is sent again while its task workflow continues as new. That takes
 * milliseconds, but a busy worker can take seconds; the attempts below span about 20 s.
 */
const ATTEMPTS = 40;

/**
 * Sends an update to a task workflow and waits for its result. An update that arrives while the
 * run is continuing as new is refused with nothing changed (`TASK_RESTARTING`); it is sent again
 * here, and reaches the new run, so callers never see that moment.
 */
export async function executeTaskUpdate<Ret, Args extends unknown[]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, Args>,
  ...args: Args
): Promise<Ret> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      // The SDK's overloads cannot see through a generic argument list; the signature above keeps
      // callers as strictly typed as a direct call.
      return await handle.executeUpdate(update as unknown as UpdateDefinition<Ret, [unknown]>, {
        args: args as unknown as [unknown],
      });
    } catch (err) {
      if (attempt >= ATTEMPTS || !isRestarting(err)) throw err;
      await sleep(Math.min(25 * attempt, 1000));
    }
  }
}

function isRestarting(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TASK_RESTARTING
  );
}
