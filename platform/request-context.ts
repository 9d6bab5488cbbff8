import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger';

/** What code deep in a request's handling may need to know about the request. */
export interface RequestContext {
  /** The request's id: in the `X-Request-Id` answer header, error bodies and every log line about it. */
  requestId: string;
  /** The API's logger, bound to the request id. */
  logger: Logger;
  /** When a write must have been answered (ms since the epoch); none for reads and MCP calls. */
  deadline?: number;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it awaits) as part of the request `context`. */
export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The request being handled, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Gives the write being handled `ms` from now to finish instead of its usual deadline, for a
 * route whose work is long by nature (a batch). The deadline only ever moves later.
 */
export function extendWriteDeadline(ms: number): void {
  const request = currentRequest();
  if (request?.deadline !== undefined) {
    request.deadline = Math.max(request.deadline, Date.now() + ms);
  }
}

/** How much sooner than its request's deadline a call to a dependency gives up, to answer in time. */
const MARGIN_MS = 500;

/**
 * Runs `fn` (calls through a Temporal connection) so that it gives up before the request's
 * write deadline: the request is answered by the route, not by the deadline, and nothing is left
 * running after the answer. Outside a write, `fn` runs as it is.
 */
export async function withinRequestDeadline<T>(
  connection: {
    withDeadline<R>(deadline: number, fn: () => Promise<R>): Promise<R>;
    withAbortSignal<R>(signal: AbortSignal, fn: () => Promise<R>): Promise<R>;
  },
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = currentRequest()?.deadline;
  if (deadline === undefined) return await fn();
  const at = deadline - MARGIN_MS;
  // The deadline bounds each call; the signal also ends the client's retries (a server that
  // cannot be reached), so nothing keeps running after the answer.
  const signal = AbortSignal.timeout(Math.max(1, at - Date.now()));
  const call = connection.withAbortSignal(signal, () => connection.withDeadline(at, fn));
  // A call waiting between two tries (the server unreachable) notices neither until its next
  // try, which may come seconds later: the answer does not wait for it.
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestDeadlineReached()), Math.max(1, at - Date.now()));
  });
  call.catch(() => undefined);
  try {
    return await Promise.race([call, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** A call to a dependency given up at its request's deadline; what it asked for may still happen. */
export class RequestDeadlineReached extends Error {
  constructor() {
    super('the request reached its deadline');
    this.name = 'RequestDeadlineReached';
  }
}
