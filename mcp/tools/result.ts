import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import {
  isTemporalDeadline,
  RETRY_AFTER_UNAVAILABLE_SECONDS,
  unreachableDependency,
} from '../../platform/failures';
import { currentRequest } from '../../platform/request-context';
import { ClaimOutcomeUnknown, NoTimeLeftToClaim } from '../claims';
import type { CallLog } from '../logging';
import { toolCalls } from '../metrics';
import { AgentRefusal, DeliveryUnavailable } from '../refusals';

/** A successful tool result: the data as `structuredContent`, and as text for clients without it. */
export function ok(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

/** Longest a tool call may take beyond the wait it asked for (`waitSeconds`). */
export const CALL_DEADLINE_MS = 10_000;

/** A call that did not finish within its deadline: what it was doing may still take effect. */
export class CallDeadlineExceeded extends Error {
  constructor(deadlineMs: number) {
    super(
      `the call did not finish within ${deadlineMs / 1000} s (Temporal or the workers are slow or ` +
        'away); it may still take effect. Check with list_my_tasks before repeating a change; ' +
        'a task assigned to you meanwhile comes back with your next get_next_task',
    );
    this.name = 'CallDeadlineExceeded';
  }
}

/** Where a failed call's code is, in the result's `_meta`. */
export const REFUSAL_META_KEY = 'aiworker/error';

/** What an agent is told of a failed call (README, "Errors an agent sees"). */
export interface AgentFailure {
  /** Stable: clients branch on it. */
  code: string;
  /** Plain words for the model: what happened and what to do. */
  message: string;
  /** Whether the same call may succeed later. */
  retryable: boolean;
  /** With a retryable failure: how long to wait first. */
  retryAfterSeconds?: number;
}

/**
 * What to tell an agent of an error: a refusal keeps its code; a dependency away or a workflow
 * that does not answer is `unavailable`; anything else is `internal`, with no word of its cause
 * (the server logs that, under the request id).
 */
export function agentFailure(err: unknown): AgentFailure & { expected: boolean } {
  if (err instanceof AgentRefusal) {
    return { code: err.code, message: err.message, retryable: false, expected: true };
  }
  if (err instanceof TaskWorkflowStuck) {
    return {
      code: 'task_stuck',
      message: err.message,
      retryable: true,
      retryAfterSeconds: 30,
      expected: true,
    };
  }
  const unavailable = (message: string) => ({
    code: 'unavailable',
    message,
    retryable: true,
    retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_SECONDS,
    expected: true,
  });
  if (
    err instanceof ClaimOutcomeUnknown ||
    err instanceof NoTimeLeftToClaim ||
    err instanceof DeliveryUnavailable ||
    err instanceof TaskWorkflowUnresponsive ||
    err instanceof CallDeadlineExceeded
  ) {
    return unavailable(err.message);
  }
  if (isTemporalDeadline(err)) {
    return unavailable(
      'Temporal did not answer in time; what you asked may still take effect: check with ' +
        'list_my_tasks before repeating a change',
    );
  }
  const away = unreachableDependency(err);
  if (away) return unavailable(`${away} is unreachable; nothing was changed, try again shortly`);
  const requestId = currentRequest()?.requestId;
  return {
    code: 'internal',
    message: `internal error; the server logged it${requestId ? ` as request ${requestId}` : ''}`,
    retryable: false,
    expected: false,
  };
}

/**
 * A failed call: the message for the model, and `_meta["aiworker/error"] = {code, message,
 * retryable, retryAfterSeconds?, requestId}` for code. (Not in `structuredContent`: SDK clients
 * check that against the tool's output schema even when `isError` is set, and reject the
 * result.)
 */
function failed(failure: AgentFailure): CallToolResult {
  const requestId = currentRequest()?.requestId;
  return {
    content: [{ type: 'text', text: failure.message }],
    _meta: { [REFUSAL_META_KEY]: { ...failure, ...(requestId ? { requestId } : {}) } },
    isError: true,
  };
}

/** Logs a failed MCP request once, with the request id: at warn if expected, else at error. */
function logFailure(err: unknown, failure: AgentFailure, expected: boolean): void {
  const logger = currentRequest()?.logger;
  if (expected) {
    logger?.warn(
      { code: failure.code, cause: err instanceof AgentRefusal ? undefined : String(err) },
      `MCP call failed: ${failure.message}`,
    );
  } else {
    logger?.error({ code: failure.code, err }, 'MCP call failed: unhandled error');
  }
}

/**
 * Runs the work of the tool `tool`; every failure becomes a result with `isError: true`, a
 * message the model can act on and a stable code (`agentFailure`), and is logged once on the
 * server with the request id: a refusal or a dependency away at warn, anything else at error
 * with its cause. Each call is counted and timed by its outcome (`ok` or that code).
 */
export async function toolResult(
  tool: string,
  work: () => Promise<Record<string, unknown>>,
  log?: CallLog,
  waitSeconds = 0,
): Promise<CallToolResult> {
  const deadlineMs = CALL_DEADLINE_MS + waitSeconds * 1000;
  const measured = toolCalls.startTimer({ tool });
  let outcome = 'ok';
  let timer: NodeJS.Timeout | undefined;
  try {
    const running = work();
    // Past the deadline the work may still finish; nobody hears of it, and a failure then is no one's.
    running.catch(() => undefined);
    const overtime = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CallDeadlineExceeded(deadlineMs)), deadlineMs);
    });
    return ok(await Promise.race([running, overtime]));
  } catch (err) {
    const { expected, ...failure } = agentFailure(err);
    logFailure(err, failure, expected);
    log?.('warning', failure.message, { code: failure.code });
    outcome = failure.code;
    return failed(failure);
  } finally {
    clearTimeout(timer);
    measured({ outcome });
  }
}

/**
 * The JSON-RPC error for a failed resource read or prompt (they have no error results): the same
 * code, message and retry advice as a tool's, in `data`, logged once like a tool's. A refusal
 * takes `jsonRpcCode` when the protocol names one for it (-32000 otherwise); `extra` adds fields
 * to `data` (a resource's `uri`).
 */
export function requestFailure(
  err: unknown,
  jsonRpcCode?: number,
  extra: Record<string, unknown> = {},
): McpError {
  const { expected, ...failure } = agentFailure(err);
  logFailure(err, failure, expected);
  const requestId = currentRequest()?.requestId;
  const code = expected ? (jsonRpcCode ?? -32000) : ErrorCode.InternalError;
  return new McpError(code, failure.message, {
    ...extra,
    ...failure,
    ...(requestId ? { requestId } : {}),
  });
}

/** Runs the work of a resource list or a completion; a failure becomes `requestFailure`'s error. */
export async function clearFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw requestFailure(err);
  }
}
