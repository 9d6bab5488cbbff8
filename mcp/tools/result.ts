import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import type { CallLog } from '../logging';
import { AgentRefusal } from '../refusals';

/** A successful tool result: the data as `structuredContent`, and as text for clients without it. */
export function ok(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

/** Where a refusal's code is, in the result's `_meta`. */
export const REFUSAL_META_KEY = 'aiworker/error';

/**
 * A refusal: the message for the model, and `_meta["aiworker/error"] = {code, message,
 * retryable}` for code. (Not in `structuredContent`: SDK clients check that against the tool's
 * output schema even when `isError` is set, and reject the result.)
 */
function refused(code: string, message: string, retryable: boolean): CallToolResult {
  return {
    content: [{ type: 'text', text: message }],
    _meta: { [REFUSAL_META_KEY]: { code, message, retryable } },
    isError: true,
  };
}

/**
 * Runs a tool's work; an expected failure (not your task, wrong state, unknown id, a task whose
 * workflow cannot take the change now) becomes a result with `isError: true`, a message the
 * model can act on and a stable code. Anything else is a real error.
 */
export async function toolResult(
  work: () => Promise<Record<string, unknown>>,
  log?: CallLog,
): Promise<CallToolResult> {
  try {
    return ok(await work());
  } catch (err) {
    const result =
      err instanceof AgentRefusal
        ? refused(err.code, err.message, false)
        : err instanceof TaskWorkflowStuck
          ? refused('task_stuck', err.message, true)
          : err instanceof TaskWorkflowUnresponsive
            ? refused('unavailable', err.message, true)
            : null;
    if (!result) throw err;
    log?.('warning', (result.content[0] as { text: string }).text, {
      code: (result._meta![REFUSAL_META_KEY] as { code: string }).code,
    });
    return result;
  }
}
