import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AgentCredentialChange, AgentRecord, NewAgent } from '../contracts/agent';

const { createAgentRecord, changeAgentCredentialsRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 20 },
});

const { announceAgentCredentialsChange } = proxyActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds', maximumAttempts: 5 },
});

/** Registers an agent durably; the API never writes MySQL itself. */
export async function registerAgentWorkflow(agent: NewAgent): Promise<AgentRecord> {
  return await createAgentRecord(agent);
}

/**
 * Revokes an agent's token or replaces it, then tells the API processes. The change holds once
 * recorded even if the announcement cannot be made: tokens are re-read within a second anyway.
 */
export async function changeAgentCredentialsWorkflow(
  change: AgentCredentialChange,
): Promise<AgentRecord> {
  const agent = await changeAgentCredentialsRecord(change);
  try {
    await announceAgentCredentialsChange(change.agentId);
  } catch (err) {
    log.warn('could not announce a credential change', {
      agentId: change.agentId,
      error: (err as Error).message,
    });
  }
  return agent;
}
