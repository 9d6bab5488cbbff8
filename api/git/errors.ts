/**
 * Failures of the git gateway. A git client shows a `text/plain` error body line by line as
 * `remote: ...`, so the gateway answers its errors as text, not as the API's JSON.
 */
import { RETRY_AFTER_UNAVAILABLE_SECONDS, unreachableDependency } from '../../platform/failures';
import { PktLineError } from './pkt-line';

/**
 * An HTTP answer the gateway gives on purpose, with a message for the person or agent at git.
 * The message is fixed wording; what went wrong underneath goes in `cause`, for the server log.
 */
export class GitHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'GitHttpError';
  }
}

/** The realm git's credential prompt names. */
export const REALM = 'aiworker';

/** No credentials, or a token nobody holds. */
export function unauthorized(): GitHttpError {
  return new GitHttpError(
    401,
    "authentication required: use your aiworker token as the password (any user name), or send it as 'Authorization: Bearer <token>'",
    { 'www-authenticate': `Basic realm="${REALM}"` },
  );
}

/** A project that does not exist or that the caller may not see: the same answer for both. */
export function repositoryNotFound(): GitHttpError {
  return new GitHttpError(404, 'repository not found');
}

/** The GitHttpError an error stands for, or null for an unexpected one (a 500 that is logged). */
export function asGitHttpError(err: unknown): GitHttpError | null {
  if (err instanceof GitHttpError) return err;
  if (err instanceof PktLineError) {
    return new GitHttpError(400, `the request is not what git sends: ${err.message}`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new GitHttpError(400, 'the gzip request body is broken');
  }
  const away = unreachableDependency(err);
  if (away) {
    return new GitHttpError(503, `${away} is unreachable; try again shortly`, {
      'retry-after': String(RETRY_AFTER_UNAVAILABLE_SECONDS),
    });
  }
  return null;
}
