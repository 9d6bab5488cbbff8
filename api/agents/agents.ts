import { randomBytes, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { agentWorkflowId, registerAgentBody, UNKNOWN_PROJECTS } from '../../contracts/agent';
import type { AgentRecord, NewAgent } from '../../contracts/agent';
import { listAgents } from '../../db/agents';
import type { ApiDeps } from '../app';
import { NotFoundError } from '../errors';
import { tokenHash } from '../middleware/auth';
import { validate } from '../validate';

/** `/api/agents`: a person registers an agent and receives its token once; list agents. */
export function agentRoutes(deps: ApiDeps): Router {
  const router = Router();

  router.post('/agents', async (req, res) => {
    const body = validate(registerAgentBody, req.body, 'body');
    const token = `aw_${randomBytes(32).toString('base64url')}`;
    const agent: NewAgent = {
      id: randomUUID(),
      name: body.name,
      tokenHash: tokenHash(token),
      projectIds: [...new Set(body.projectIds ?? [])],
    };
    try {
      const created = await deps.temporal.client.workflow.execute<
        (a: NewAgent) => Promise<AgentRecord>
      >('registerAgentWorkflow', {
        workflowId: agentWorkflowId(agent.id),
        taskQueue: deps.taskQueue,
        args: [agent],
      });
      // The token is shown here once; only its hash is stored.
      res.status(201).json({ agentId: created.id, token, ...created });
    } catch (err) {
      const cause =
        err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : undefined;
      if (cause instanceof ApplicationFailure && cause.type === UNKNOWN_PROJECTS)
        throw new NotFoundError(cause.message);
      throw err;
    }
  });

  router.get('/agents', async (_req, res) => {
    const agents = await listAgents(deps.db);
    res.json({ agents: await withLiveStatus(deps, agents) });
  });

  return router;
}

/** What the MCP server keeps in `agent:{id}:status` (30 s) while an agent is active. */
interface LiveStatus {
  status: 'working' | 'idle';
  currentTaskId: string | null;
  at: string;
}

/**
 * Adds each agent's live status from Redis: `status` is `offline` once its key has expired, and
 * `lastSeenAt` is its last MCP call. Without Redis the list still answers, without live status.
 */
async function withLiveStatus(deps: ApiDeps, agents: AgentRecord[]) {
  let live: Array<string | null> = [];
  if (agents.length) {
    live = await deps.redis
      .mget(agents.map((a) => `agent:${a.id}:status`))
      .catch(() => agents.map(() => null));
  }
  return agents.map((agent, i) => {
    const raw = live[i];
    const status = raw ? parseStatus(raw) : null;
    return {
      ...agent,
      status: status?.status ?? 'offline',
      currentTaskId: status?.currentTaskId ?? null,
      lastSeenAt: status?.at ?? agent.lastSeenAt,
    };
  });
}

/** A status as the MCP endpoint writes it; anything else in the key reads as no status. */
function parseStatus(raw: string): LiveStatus | null {
  try {
    const value = JSON.parse(raw) as Partial<LiveStatus> | null;
    return value && typeof value.status === 'string' ? (value as LiveStatus) : null;
  } catch {
    return null;
  }
}
