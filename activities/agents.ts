import { ApplicationFailure } from '@temporalio/activity';
import {
  AGENT_CREDENTIALS_CHANNEL,
  AGENT_REVOKED,
  UNKNOWN_AGENT,
  UNKNOWN_PROJECTS,
} from '../contracts/agent';
import type { AgentCredentialChange, AgentRecord, NewAgent } from '../contracts/agent';
import {
  AgentRevoked,
  changeAgentCredentials,
  insertAgent,
  UnknownAgent,
  UnknownProjects,
} from '../db/agents';
import { recordAudit } from '../db/audit';
import { auditChange, auditEntry } from './audit';
import type { ActivityDeps } from './deps';

export function createAgentActivities({ db, redis }: ActivityDeps) {
  return {
    /** Records a registered agent (its token only as a hash); a retry after success returns the same agent. */
    async createAgentRecord(agent: NewAgent): Promise<AgentRecord> {
      try {
        const created = await insertAgent(db, agent);
        await auditChange(db, {
          action: 'agent.registered',
          actor: agent.actor,
          detail: { agentId: agent.id, name: agent.name },
        });
        return created;
      } catch (err) {
        if (err instanceof UnknownProjects)
          throw ApplicationFailure.nonRetryable(err.message, UNKNOWN_PROJECTS);
        throw err;
      }
    },

    /** Revokes or replaces an agent's token in the read model (idempotent). */
    async changeAgentCredentialsRecord(change: AgentCredentialChange): Promise<AgentRecord> {
      try {
        // Audited with the change, in its transaction: a revocation sent again adds no entry.
        return await changeAgentCredentials(db, change, (sql, agent) =>
          recordAudit(sql, [
            auditEntry({
              action: change.action === 'revoke' ? 'agent.revoked' : 'agent.rotated',
              actor: change.actor,
              detail: { agentId: agent.id, name: agent.name },
            }),
          ]),
        );
      } catch (err) {
        if (err instanceof UnknownAgent)
          throw ApplicationFailure.nonRetryable(err.message, UNKNOWN_AGENT);
        if (err instanceof AgentRevoked)
          throw ApplicationFailure.nonRetryable(err.message, AGENT_REVOKED);
        throw err;
      }
    },

    /**
     * Tells every API process that an agent's old token works no more: they forget it, end its
     * open long polls and disconnect its sockets. Their token cache lives one second, so a lost
     * announcement delays nothing but those.
     */
    async announceAgentCredentialsChange(agentId: string): Promise<void> {
      await redis.publish(AGENT_CREDENTIALS_CHANNEL, JSON.stringify({ agentId }));
    },
  };
}
