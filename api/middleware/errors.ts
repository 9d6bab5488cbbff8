import { ServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ErrorBody } from '../../contracts/errors';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { ApiError, NotFoundError, NotReadyError, RateLimitedError } from '../errors';

/** JSON-RPC error code of a refused MCP request over a limit (implementation-defined range). */
const JSONRPC_RATE_LIMITED = -32029;

/** The JSON-RPC error code of a refusal of `/mcp` (the spec's own, or the server range). */
function jsonRpcCode(err: ApiError | undefined): number {
  if (err?.code === 'invalid_json') return -32700;
  if (err instanceof RateLimitedError) return JSONRPC_RATE_LIMITED;
  if (err?.status === 400 || err?.status === 415) return -32600;
  if (err === undefined) return -32603;
  return -32000;
}

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
    const message = known?.message ?? 'internal error; the server logged the details';
    if (known instanceof RateLimitedError) {
      res.setHeader('Retry-After', String(known.retryAfterSeconds));
    }
    if (/^\/mcp(?:[/?]|$)/.test(req.originalUrl)) {
      // MCP clients read JSON-RPC: every refusal of the transport is a JSON-RPC error.
      if (status === 401) {
        // The MCP authorization spec: a 401 names the scheme to authenticate with.
        res.setHeader('WWW-Authenticate', 'Bearer realm="aiworker", error="invalid_token"');
      }
      if (status === 405) res.setHeader('Allow', 'POST');
      res.status(status).json({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: jsonRpcCode(known),
          message,
          data: {
            code: known?.code ?? 'internal',
            retryable: status === 429 || status >= 500,
            ...(known instanceof RateLimitedError
              ? { retryAfterSeconds: known.retryAfterSeconds }
              : {}),
          },
        },
      });
      return;
    }
    const body: ErrorBody = {
      error: {
        code: known?.code ?? 'internal',
        message,
        ...(known instanceof RateLimitedError
          ? { retryAfterSeconds: known.retryAfterSeconds }
          : {}),
      },
    };
    res.status(status).json(body);
  };
}

/**
 * Refuses a request body that is not JSON (415): without this, a body sent as text or a form
 * would be read as no body at all, and a route with only optional fields would go ahead.
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length ?? '0') !== '0';
  if (hasBody && !req.is('application/json')) {
    next(
      new ApiError(
        415,
        'unsupported_media_type',
        'send the body as JSON, with the header Content-Type: application/json',
      ),
    );
    return;
  }
  next();
};

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** Temporal's client could not reach the server (it already retried). */
export function isTemporalUnreachable(err: unknown): boolean {
  const code = (e: unknown) => (e as { code?: unknown } | null)?.code;
  const grpc = err instanceof ServiceError ? code(err.cause) : code(err);
  return grpc === GRPC_UNAVAILABLE || grpc === GRPC_DEADLINE_EXCEEDED;
}

/** The database driver could not get a connection (server down, refused, pool timed out). */
function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as { name?: unknown; meta?: { driverAdapterError?: { cause?: unknown } } } | null;
  if (e?.name === 'PrismaClientInitializationError') return true;
  const cause = e?.meta?.driverAdapterError?.cause as
    { code?: unknown; cause?: unknown; message?: unknown } | undefined;
  if (!cause) return false;
  // 45028: the MariaDB driver's pool timeout; ECONNREFUSED and friends: no server there.
  return (
    cause.code === 45028 ||
    /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(
      `${String(cause.cause)} ${String(cause.message)}`,
    )
  );
}

/** Maps body-parser's errors (bad JSON, too large), dependencies being down and our own to ApiErrors. */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof TaskWorkflowStuck) return new ApiError(503, 'task_stuck', err.message);
  if (err instanceof TaskWorkflowUnresponsive) return new NotReadyError(err.message);
  if (isTemporalUnreachable(err))
    return new NotReadyError('Temporal is unreachable; try again shortly');
  if (isDatabaseUnreachable(err))
    return new NotReadyError('the database is unreachable; try again shortly');
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
