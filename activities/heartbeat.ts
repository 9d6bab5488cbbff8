import { Context } from '@temporalio/activity';

/** How often a running step tells Temporal its worker is alive. */
const BEAT_MS = 5_000;

/**
 * A step's progress report: heartbeats with `detail`, and throws once the step is cancelled, so
 * the wait that reports (an install, a rollout, a sync) stops there instead of running on
 * behind a step that has already failed.
 */
export function beat(detail: string): void {
  const ctx = Context.current();
  ctx.cancellationSignal.throwIfAborted();
  ctx.heartbeat(detail);
}

/**
 * Runs `run` while heartbeating every few seconds, so that with a short heartbeat timeout a
 * worker that dies in the middle of a step is noticed in seconds and the step retried elsewhere,
 * instead of after the step's whole start-to-close timeout. A cancelled step (its worker shuts
 * down, e.g. in a rolling upgrade) fails this attempt at once; Temporal runs the next attempt on
 * a worker that is up, and every step is idempotent. Pass `beat` as the step's progress report
 * so its own wait stops too.
 */
export async function whileBeating<T>(run: () => Promise<T>, detail = 'working'): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(detail);
  const timer = setInterval(() => ctx.heartbeat(detail), BEAT_MS);
  try {
    return await Promise.race([run(), ctx.cancelled]);
  } finally {
    clearInterval(timer);
  }
}
