import { Context } from '@temporalio/activity';

/** How often a running step tells Temporal its worker is alive. */
const BEAT_MS = 5_000;

/**
 * Runs `run` while heartbeating every few seconds, so that with a short heartbeat timeout a
 * worker that dies in the middle of a step is noticed in seconds and the step retried elsewhere,
 * instead of after the step's whole start-to-close timeout.
 */
export async function whileBeating<T>(run: () => Promise<T>, detail = 'working'): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(detail);
  const beat = setInterval(() => ctx.heartbeat(detail), BEAT_MS);
  try {
    return await run();
  } finally {
    clearInterval(beat);
  }
}
