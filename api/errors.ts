import type { ErrorCode } from '../contracts/errors';

/** Base of every error the API answers on purpose; anything else becomes a logged 500. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
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

/** A dependency the request needs is down (503). */
export class NotReadyError extends ApiError {
  constructor(message: string) {
    super(503, 'not_ready', message);
  }
}

/** The caller went over a limit (429); `retryAfterSeconds` goes out as `Retry-After`. */
export class RateLimitedError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', `${message}; retry after ${retryAfterSeconds} s`);
  }
}
