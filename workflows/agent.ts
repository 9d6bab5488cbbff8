import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AgentRecord, NewAgent } from '../contracts/agent';

const { createAgentRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 20 },
});

/** Registers an agent durably; the API never writes MySQL itself. */
export async function registerAgentWorkflow(agent: NewAgent): Promise<AgentRecord> {
  return await createAgentRecord(agent);
}
