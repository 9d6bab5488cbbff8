import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../../platform/errors';
import { AgentRefusal } from '../work';

/** A successful tool result: the data as `structuredContent`, and as text for clients without it. */
export function ok(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

/**
 * Runs a tool's work; an expected failure (not your task, wrong state, unknown id, a task whose
 * workflow cannot take the change now) becomes a result with `isError: true` and a message the
 * model can act on. Anything else is a real error.
 */
export async function toolResult(
  work: () => Promise<Record<string, unknown>>,
): Promise<CallToolResult> {
  try {
    return ok(await work());
  } catch (err) {
    if (
      err instanceof AgentRefusal ||
      err instanceof TaskWorkflowStuck ||
      err instanceof TaskWorkflowUnresponsive
    ) {
      return { content: [{ type: 'text', text: err.message }], isError: true };
    }
    throw err;
  }
}
