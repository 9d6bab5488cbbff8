import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import { AgentRefusal } from '../work';

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
): Promise<CallToolResult> {
  try {
    return ok(await work());
  } catch (err) {
    if (err instanceof AgentRefusal) return refused(err.code, err.message, false);
    if (err instanceof TaskWorkflowStuck) return refused('task_stuck', err.message, true);
    if (err instanceof TaskWorkflowUnresponsive) return refused('unavailable', err.message, true);
    throw err;
  }
}
