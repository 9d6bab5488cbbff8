import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ErrorBody } from '../../contracts/errors';
import type { Logger } from '../../platform/logger';
import { ApiError, NotFoundError } from '../errors';

/** Answers 404 for any route nobody declared. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route ${req.method} ${req.path}`));
};

/** The one error handler: known errors keep their status and code, everything else is a logged 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = toApiError(err);
    if (!known) {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    }
    const status = known?.status ?? 500;
    const body: ErrorBody = {
      error: {
        code: known?.code ?? 'internal',
        message: known?.message ?? 'internal error; the server logged the details',
      },
    };
    res.status(status).json(body);
  };
}

/** Maps body-parser's errors (bad JSON, too large) and our own to ApiErrors. */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed')
    return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  if (type === 'entity.too.large') {
    return new ApiError(
      413,
      'payload_too_large',
      'the request body is larger than the server accepts',
    );
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new ApiError(400, 'invalid_json', 'send the body as UTF-8 JSON');
  }
  return undefined;
}
