import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger';

/** What code deep in a request's handling may need to know about the request. */
export interface RequestContext {
  /** The request's id: in the `X-Request-Id` answer header, error bodies and every log line about it. */
  requestId: string;
  /** The API's logger, bound to the request id. */
  logger: Logger;
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
