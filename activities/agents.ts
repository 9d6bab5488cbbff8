import { ApplicationFailure } from '@temporalio/activity';
import { UNKNOWN_PROJECTS } from '../contracts/agent';
import type { AgentRecord, NewAgent } from '../contracts/agent';
import { insertAgent, UnknownProjects } from '../db/agents';
import type { ActivityDeps } from './deps';

export function createAgentActivities({ db }: ActivityDeps) {
  return {
    /** Records a registered agent (its token only as a hash); a retry after success returns the same agent. */
    async createAgentRecord(agent: NewAgent): Promise<AgentRecord> {
      try {
        return await insertAgent(db, agent);
      } catch (err) {
        if (err instanceof UnknownProjects)
          throw ApplicationFailure.nonRetryable(err.message, UNKNOWN_PROJECTS);
        throw err;
      }
    },
  };
}
