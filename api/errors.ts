import type { ErrorCode } from '../contracts/errors';
import { RETRY_AFTER_UNAVAILABLE_SECONDS } from '../platform/failures';

/** Base of every error the API answers on purpose; anything else becomes a logged 500. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** When to try again (also the `Retry-After` header); only for errors worth retrying. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** Whether the same request may succeed later: over a limit, or a dependency away. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503;
  }
}

/** Request input failed validation (400); the message names the field. */
export class ValidationError extends ApiError {
  constructor(message: string) {
    super(400, 'validation_failed', message);
  }
}

/** No token, or a token nobody holds (401). */
export class UnauthorizedError extends ApiError {
  constructor(message = 'send Authorization: Bearer <token> with a valid token') {
    super(401, 'unauthorized', message);
  }
}

/** A valid token that may not do this (403). */
export class ForbiddenError extends ApiError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

/** The route or the resource does not exist (404). */
export class NotFoundError extends ApiError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** The resource's state does not allow the request (409); the message says the current state. */
export class ConflictError extends ApiError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

/** A dependency the request needs is down (503); nothing was changed. */
export class NotReadyError extends ApiError {
  constructor(message: string, retryAfterSeconds = RETRY_AFTER_UNAVAILABLE_SECONDS) {
    super(503, 'not_ready', message, retryAfterSeconds);
  }
}

/**
 * A write that did not finish within its deadline (503): it may still take effect, so a client
 * reads the resource again before repeating a change that is not idempotent.
 */
export class TimedOutError extends ApiError {
  constructor(deadlineMs: number) {
    super(
      503,
      'timed_out',
      `the request did not finish within ${deadlineMs / 1000} s (a dependency is slow or away); ` +
        'it may still take effect: read the resource again before repeating it',
      RETRY_AFTER_UNAVAILABLE_SECONDS,
    );
  }
}

/** The caller went over a limit (429); `retryAfterSeconds` goes out as `Retry-After`. */
export class RateLimitedError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'rate_limited', `${message}; retry after ${retryAfterSeconds} s`, retryAfterSeconds);
  }
}
