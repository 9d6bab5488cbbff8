import { inspect, types } from 'node:util';
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { RequestDeadlineReached } from './request-context';

/** A service aiworker depends on for a request. */
export type Dependency = 'Temporal' | 'the database' | 'Redis';

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function grpcCode(err: unknown): unknown {
  const code = (e: unknown) => (e as { code?: unknown } | null)?.code;
  return err instanceof ServiceError ? code(err.cause) : code(err);
}

/** Temporal's client could not reach the server (it already retried). */
export function isTemporalUnreachable(err: unknown): boolean {
  return grpcCode(err) === GRPC_UNAVAILABLE;
}

const GRPC_CANCELLED = 1;

/**
 * A Temporal call that ran out of its deadline (or was cancelled when it did): what it asked
 * for may still happen.
 */
export function isTemporalDeadline(err: unknown): boolean {
  const grpc = grpcCode(err);
  return (
    err instanceof RequestDeadlineReached ||
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    grpc === GRPC_DEADLINE_EXCEEDED ||
    grpc === GRPC_CANCELLED
  );
}

/**
 * MariaDB errors that mean the connection, not the query, failed: the driver's own (connection
 * closed, socket closed or failed, connect or pool timeout, pool closed or closing: a request
 * still waiting for a connection as the process shuts down) and the server's "too many
 * connections" and "shutting down".
 */
const DRIVER_CONNECTION_ERRORS = new Set([
  45001, 45009, 45012, 45013, 45019, 45027, 45028, 45037, 1040, 1053,
]);
/** Prisma's own codes for an unreachable server, a closed connection, a pool timeout. */
const PRISMA_CONNECTION_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** The database could not be reached (server down, refused, connection lost, pool timed out). */
function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as {
    name?: unknown;
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: unknown } };
  } | null;
  if (e?.name === 'PrismaClientInitializationError') return true;
  if (typeof e?.code === 'string' && PRISMA_CONNECTION_CODES.has(e.code)) return true;
  // A statement sent through the driver itself (db/sql.ts) fails with the driver's error.
  if (e?.name === 'SqlError') {
    const { errno } = err as { errno?: unknown };
    return typeof errno === 'number' && DRIVER_CONNECTION_ERRORS.has(errno);
  }
  const cause = e?.meta?.driverAdapterError?.cause as
    { code?: unknown; cause?: unknown; message?: unknown } | undefined;
  if (!cause) return false;
  return (
    (typeof cause.code === 'number' && DRIVER_CONNECTION_ERRORS.has(cause.code)) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|pool timeout|socket has unexpectedly been closed/i.test(
      `${String(cause.cause)} ${String(cause.message)}`,
    )
  );
}

/** Redis refused a command because it is not connected (the client queues nothing offline). */
function isRedisUnreachable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null;
  if (e?.name === 'MaxRetriesPerRequestError') return true;
  return (
    typeof e?.message === 'string' &&
    /enableOfflineQueue options is false|^Connection is closed\.?$/.test(e.message)
  );
}

/** Socket errors that mean the peer is gone, not that the request was wrong. */
const NETWORK_CODES =
  /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND)$/;

/** Which dependency an error says is unreachable, if that is what it says. */
export function unreachableDependency(err: unknown): Dependency | null {
  if (isTemporalUnreachable(err) || isTemporalDeadline(err)) return 'Temporal';
  const e = err as { name?: unknown; code?: unknown } | null;
  if (typeof e?.code === 'string' && NETWORK_CODES.test(e.code)) {
    // Prisma passes the driver's socket error on with its own code.
    return typeof e.name === 'string' && e.name.startsWith('Prisma') ? 'the database' : 'Redis';
  }
  if (isDatabaseUnreachable(err)) return 'the database';
  if (isRedisUnreachable(err)) return 'Redis';
  return null;
}

/** How long a client should wait before trying again a call that met an unreachable dependency. */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = 2;

/** One error in a line: its name and message, or what an AggregateError (no message) holds. */
function summary(err: unknown): string {
  // isNativeError, not instanceof: errors from Node's internals (fetch's) may come from another
  // realm (a test's sandbox, for one).
  if (!types.isNativeError(err)) return inspect(err, { depth: 1, breakLength: Infinity });
  const { errors } = err as { errors?: unknown };
  const message = err.message || (Array.isArray(errors) ? errors.map(summary).join(', ') : '');
  return `${err.name}: ${message}`;
}

/** An error and the errors beneath it, in one line for the log (`fetch failed` says little). */
export function failureDetail(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    parts.push(summary(e));
    e = types.isNativeError(e) ? e.cause : undefined;
  }
  return parts.join('; caused by ');
}
