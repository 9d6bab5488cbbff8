import { z } from 'zod';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The `waitSeconds` input of a call that may wait: whole seconds, capped as `allowedWait` says. */
export function waitSecondsInput(description: string) {
  return z.number().int().min(0).max(PROGRESS_WAIT_SECONDS).optional().describe(description);
}

/** How often a long call tells a client that asked for progress that it is still going. */
export const PROGRESS_EVERY_MS = 10_000;

/** Longest wait a call takes without a progress token: below the SDK's default 60 s timeout. */
export const PLAIN_WAIT_SECONDS = 50;
/** Longest wait with a progress token (clients reset their timeout on each notification). */
export const PROGRESS_WAIT_SECONDS = 600;

/** The wait a call may take: capped below the SDK's default timeout unless progress is sent. */
export function allowedWait(waitSeconds: number | undefined, extra: Extra): number | undefined {
  if (waitSeconds === undefined) return undefined;
  const cap = extra._meta?.progressToken === undefined ? PLAIN_WAIT_SECONDS : PROGRESS_WAIT_SECONDS;
  return Math.min(waitSeconds, cap);
}

/**
 * Runs a call that may take long; when the client sent a progress token, a progress
 * notification goes out every `PROGRESS_EVERY_MS` while it runs (the answer is then a stream of
 * server-sent events), so a client with `resetTimeoutOnProgress` waits as long as it takes.
 */
export async function keepInformed<T>(extra: Extra, what: string, work: () => Promise<T>) {
  const token = extra._meta?.progressToken;
  if (token === undefined) return await work();
  const started = Date.now();
  let beat = 0;
  const timer = setInterval(() => {
    beat += 1;
    const seconds = Math.round((Date.now() - started) / 1000);
    void extra
      .sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: beat, message: `${what} (${seconds} s)` },
      })
      .catch(() => undefined);
  }, PROGRESS_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
