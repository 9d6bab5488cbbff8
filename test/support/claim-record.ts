import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { taskHistoryQuery } from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { undeliveredKey } from '../../mcp/delivery-marks';

/**
 * What is known of a task's claims, for a failing test to print: each given agent's delivery
 * mark on it (those it has) and the transitions its workflow recorded.
 */
export async function claimRecord(
  deps: { redis: Redis; temporal: { client: Client } },
  taskId: string,
  agentIds: string[],
): Promise<{ marks: Record<string, string>; history: string[] | string }> {
  const marks: Record<string, string> = {};
  for (const agentId of agentIds) {
    const mark = await deps.redis.get(undeliveredKey(agentId, taskId));
    if (mark !== null) marks[agentId] = mark;
  }
  const history = await deps.temporal.client.workflow
    .getHandle(taskWorkflowId(taskId))
    .query(taskHistoryQuery)
    .then((h) => h.map((t) => `${t.from}->${t.to}`))
    .catch((err: unknown) => String(err));
  return { marks, history };
}
