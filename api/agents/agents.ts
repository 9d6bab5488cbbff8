import { randomBytes, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import {
  AGENT_REVOKED,
  agentCredentialsWorkflowId,
  agentWorkflowId,
  ALL_PROJECTS,
  registerAgentBody,
  rotateAgentBody,
  UNKNOWN_AGENT,
  UNKNOWN_PROJECTS,
} from '../../contracts/agent';
import type { AgentCredentialChange, AgentRecord, NewAgent } from '../../contracts/agent';
import { findAgent, listAgents } from '../../db/agents';
import { tasksHeldBy } from '../../db/tasks';
import { releaseTaskUpdate } from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { executeTaskUpdate } from '../../platform/task-updates';
import type { ApiDeps } from '../deps';
import { ConflictError, NotFoundError } from '../errors';
import { actorOf, requireAdministrator, tokenHash } from '../middleware/auth';
import type { Actor } from '../../contracts/actor';
import { validate } from '../validate';
import { recordThroughWorkflow } from '../temporal-errors';

const agentParams = z.object({ id: z.string().uuid('expected a UUID') });

/** Paging of `GET /api/agents`: by id, `after` the last one seen. */
const listQuery = z
  .object({
    after: z.string().uuid('expected a UUID').optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/** A new agent token: `aw_` and 256 random bits. */
function newToken(): string {
  return `aw_${randomBytes(32).toString('base64url')}`;
}

/**
 * `/api/agents`: a person registers an agent and receives its token once; lists, revokes and
 * rotates agents' tokens.
 */
export function agentRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.use('/agents', requireAdministrator);

  /** Records a revocation or rotation through its workflow. */
  const changeCredentials = (change: AgentCredentialChange): Promise<AgentRecord> =>
    recordThroughWorkflow(
      deps,
      'changeAgentCredentialsWorkflow',
      agentCredentialsWorkflowId(change.agentId, randomUUID()),
      change,
      { notFound: [UNKNOWN_AGENT], conflict: [AGENT_REVOKED] },
    );

  router.post('/agents', async (req, res) => {
    const body = validate(registerAgentBody, req.body, 'body');
    const token = newToken();
    const all = body.projectIds === ALL_PROJECTS;
    const agent: NewAgent = {
      id: randomUUID(),
      name: body.name,
      tokenHash: tokenHash(token),
      projectIds: all ? [] : (body.projectIds as string[]),
      allProjects: all,
      expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
      actor: actorOf(req.principal!),
    };
    const created = await recordThroughWorkflow<NewAgent, AgentRecord>(
      deps,
      'registerAgentWorkflow',
      agentWorkflowId(agent.id),
      agent,
      { notFound: [UNKNOWN_PROJECTS], conflict: [] },
    );
    // The token is shown here once; only its hash is stored.
    res.status(201).json({ agentId: created.id, token, ...created });
  });

  router.get('/agents', async (req, res) => {
    const { after, limit } = validate(listQuery, req.query, 'query');
    const agents = await listAgents(deps.db, { after, limit });
    res.json({
      agents: await withLiveStatus(deps, agents),
      next: agents.length === limit ? agents[agents.length - 1]!.id : null,
    });
  });

  router.get('/agents/:id', async (req, res) => {
    const { id } = validate(agentParams, req.params, 'params');
    const agent = await findAgent(deps.db, id);
    if (!agent) throw new NotFoundError(`there is no agent ${id}`);
    const [live] = await withLiveStatus(deps, [agent]);
    res.json(live);
  });

  /**
   * Gives the tasks a revoked agent was working on back to the backlog at once, through each
   * task's own release update. One that cannot be released now (its workflow is busy or stuck)
   * goes back when its lease runs out, as it would have without this.
   */
  async function releaseTasksOf(agent: AgentRecord, actor: Actor): Promise<string[]> {
    const released: string[] = [];
    for (const taskId of await tasksHeldBy(deps.db, agent.id, ['in_progress'])) {
      const handle = deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));
      try {
        await executeTaskUpdate(handle, releaseTaskUpdate, {
          agentId: agent.id,
          reason: `the token of agent ${agent.name} was revoked`,
          actor,
        });
        released.push(taskId);
      } catch (err) {
        deps.logger.warn(
          { taskId, agentId: agent.id, err: (err as Error).message },
          "a revoked agent's task stays assigned until its lease runs out",
        );
      }
    }
    return released;
  }

  // Revokes the token at once on every API process; the agent stays listed, as revoked, and the
  // tasks it was working on go back to the backlog.
  router.delete('/agents/:id', async (req, res) => {
    const { id } = validate(agentParams, req.params, 'params');
    const actor = actorOf(req.principal!);
    const agent = await changeCredentials({ agentId: id, action: 'revoke', actor });
    res.json({ ...agent, releasedTaskIds: await releaseTasksOf(agent, actor) });
  });

  // A new token for the same agent; the old one stops working. Shown here once.
  router.post('/agents/:id/rotate', async (req, res) => {
    const { id } = validate(agentParams, req.params, 'params');
    const body = validate(rotateAgentBody, req.body, 'body');
    const existing = await findAgent(deps.db, id);
    if (!existing) throw new NotFoundError(`there is no agent ${id}`);
    if (existing.revokedAt)
      throw new ConflictError(`agent ${id} was revoked; register a new agent instead`);
    const token = newToken();
    const agent = await changeCredentials({
      agentId: id,
      action: 'rotate',
      actor: actorOf(req.principal!),
      tokenHash: tokenHash(token),
      expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
    });
    res.json({ agentId: agent.id, token, ...agent });
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
      status: agent.revokedAt ? 'revoked' : (status?.status ?? 'offline'),
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
