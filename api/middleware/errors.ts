import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { ErrorBody } from '../../contracts/errors';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import { failureDetail, isTemporalDeadline, unreachableDependency } from '../../platform/failures';
import type { Logger } from '../../platform/logger';
import { currentRequest, runInRequest } from '../../platform/request-context';
import { UnpairedSurrogateError } from './json-body';
import { ApiError, NotFoundError, NotReadyError, RateLimitedError, TimedOutError } from '../errors';

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

/** A request id a client may choose (`X-Request-Id`): short, and safe to write in logs. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives every request an id: the client's `X-Request-Id` when it is a plain token, else a new
 * one. It goes back in the `X-Request-Id` header and in error bodies, and every log line about
 * the request carries it (the rest of the request runs in its context).
 */
export function requestIds(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const offered = req.headers['x-request-id'];
    const requestId =
      typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    runInRequest({ requestId, logger: logger.child({ requestId }) }, next);
  };
}

/** Answers 404 for any route nobody declared. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route ${req.method} ${req.path}`));
};

/** The body of an error answer, for HTTP (with the request id) and socket.io (without). */
export function errorBody(known: ApiError | undefined, requestId?: string): ErrorBody {
  return {
    error: {
      code: known?.code ?? 'internal',
      message: known?.message ?? 'internal error; the server logged the details',
      retryable: known?.retryable ?? false,
      ...(known?.retryAfterSeconds !== undefined
        ? { retryAfterSeconds: known.retryAfterSeconds }
        : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}

/**
 * The one error handler: known errors keep their status and code, everything else is a 500.
 * Every 5xx is logged once, with the request id and what caused it; the client gets a stable
 * code, a plain message and whether to retry, never the cause's own text.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const requestId = currentRequest()?.requestId ?? String(res.getHeader('X-Request-Id') ?? '');
    if (res.headersSent) {
      // Answered already (the write deadline answered for the route): what the route met after
      // that reached no one, and its answer was logged then.
      logger.info(
        { requestId, method: req.method, path: req.path, cause: causeOf(err) },
        'a request answered at its deadline ended later',
      );
      return;
    }
    const known = toApiError(err);
    const status = known?.status ?? 500;
    if (status >= 500) {
      const line = { requestId, method: req.method, path: req.path, status, code: known?.code };
      if (known)
        logger.warn({ ...line, cause: causeOf(err) }, 'request failed: a dependency is away');
      else logger.error({ ...line, err }, 'request failed: unhandled error');
    }
    if (known?.retryAfterSeconds !== undefined) {
      res.setHeader('Retry-After', String(known.retryAfterSeconds));
    }
    if (/^\/mcp(?:[/?]|$)/.test(req.originalUrl)) {
      answerMcpRefusal(res, known, requestId);
      return;
    }
    res.status(status).json(errorBody(known, requestId));
  };
}

/**
 * Answers a refusal of `/mcp` itself as MCP clients read it: a JSON-RPC error whose `data` has
 * the same code, retry advice and request id as a REST error's body.
 */
export function answerMcpRefusal(
  res: Response,
  known: ApiError | undefined,
  requestId: string | undefined,
): void {
  const status = known?.status ?? 500;
  if (status === 401) {
    // The MCP authorization spec: a 401 names the scheme to authenticate with.
    res.setHeader('WWW-Authenticate', 'Bearer realm="aiworker", error="invalid_token"');
  }
  if (status === 405) res.setHeader('Allow', 'POST');
  const { message, ...data } = errorBody(known, requestId || undefined).error;
  res.status(status).json({
    jsonrpc: '2.0',
    id: null,
    error: { code: jsonRpcCode(known), message, data },
  });
}

/** What an error that is not ours says, with the errors beneath it, for the log only. */
function causeOf(err: unknown): string | undefined {
  if (err instanceof ApiError) return undefined;
  return failureDetail(err);
}

/** Longest a REST write may take before it is answered 503 `timed_out` (docs/operations.md). */
export const WRITE_DEADLINE_MS = 10_000;

/** Methods that change something: each must answer within the write deadline. */
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Answers a write that has not finished after `ms` (or by the later deadline its route set with
 * `extendWriteDeadline`) through `handler` with 503 `timed_out`, so that no change waits on a
 * slow or absent dependency without bound. The route's own late
 * answer is then dropped (the error handler writes nothing once an answer is out).
 */
export function writeDeadline(ms: number, handler: ErrorRequestHandler): RequestHandler {
  return (req, res, next) => {
    if (!WRITES.has(req.method)) {
      next();
      return;
    }
    const request = currentRequest();
    const started = Date.now();
    if (request) request.deadline = started + ms;
    const answerIfLate = () => {
      if (res.headersSent) return;
      // The route may have moved its deadline later (extendWriteDeadline).
      const deadline = request?.deadline ?? started + ms;
      if (deadline > Date.now()) {
        timer = setTimeout(answerIfLate, deadline - Date.now());
        timer.unref();
        return;
      }
      const late = new TimedOutError(deadline - started);
      const answer = () => handler(late, req, res, () => undefined);
      if (request) runInRequest(request, answer);
      else answer();
    };
    let timer = setTimeout(answerIfLate, ms);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    next();
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

/**
 * Maps body-parser's errors (bad JSON, too large), dependencies being down and our own to
 * ApiErrors; undefined for anything else (a bug: a 500).
 */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof TaskWorkflowStuck) return new ApiError(503, 'task_stuck', err.message, 30);
  if (err instanceof TaskWorkflowUnresponsive) return new NotReadyError(err.message);
  // Temporal took the call but did not finish it in time: it may still take effect.
  if (isTemporalDeadline(err)) return new TimedOutError(WRITE_DEADLINE_MS);
  if (err instanceof UnpairedSurrogateError) return new ApiError(400, 'invalid_json', err.message);
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
  const unreadable = unreadableRequest(err);
  if (unreadable) return unreadable;
  const away = unreachableDependency(err);
  if (away) return new NotReadyError(`${away} is unreachable; try again shortly`);
  return undefined;
}

/**
 * A request that could not be read, which Express and body-parser report with a 4xx status of
 * their own (http-errors): a URL whose percent-encoding is broken, a compressed body that does
 * not decompress, a body shorter or longer than its Content-Length, a client that hung up while
 * sending it. Each is the client's doing: a 400 in our words, never the library's.
 */
function unreadableRequest(err: unknown): ApiError | undefined {
  const e = err as { status?: unknown; expose?: unknown; type?: unknown; code?: unknown } | null;
  if (err instanceof URIError) {
    return new ApiError(400, 'validation_failed', 'the URL is not validly percent-encoded');
  }
  if (e?.type === 'request.aborted') {
    // No one reads this answer; it keeps a client that left from being logged as a failure.
    return new ApiError(400, 'invalid_json', 'the request body did not arrive in full');
  }
  if (e?.type === 'request.size.invalid') {
    return new ApiError(
      400,
      'invalid_json',
      'the request body is not as long as its Content-Length header says',
    );
  }
  // zlib's codes (Z_DATA_ERROR…) and Brotli's (ERR__ERROR_FORMAT_PADDING_2…).
  if (typeof e?.code === 'string' && /^(Z_|ERR__ERROR_)/.test(e.code)) {
    return new ApiError(
      400,
      'invalid_json',
      'the request body could not be decompressed (Content-Encoding)',
    );
  }
  // Any other client error of Express's own (http-errors marks those it may show: `expose`).
  const status = e?.status;
  if (e?.expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(400, 'validation_failed', 'the request could not be read');
  }
  return undefined;
}
