import { ALL_PROJECTS } from '../contracts/agent';
import type { AgentCredentialChange, AgentRecord, NewAgent } from '../contracts/agent';
import type { Db } from './client';
import { prismaRunner, storedTime } from './sql';
import type { SqlRunner } from './sql';

/** Thrown by `insertAgent` when some of the agent's projects do not exist. */
export class UnknownProjects extends Error {
  constructor(readonly ids: string[]) {
    super(`no project ${ids.join(', ')}`);
    this.name = 'UnknownProjects';
  }
}

/** Thrown by `changeAgentCredentials` when there is no such agent. */
export class UnknownAgent extends Error {
  constructor(readonly agentId: string) {
    super(`there is no agent ${agentId}`);
    this.name = 'UnknownAgent';
  }
}

/** Thrown by `changeAgentCredentials` when a revoked agent's token would be rotated. */
export class AgentRevoked extends Error {
  constructor(readonly agentId: string) {
    super(`agent ${agentId} was revoked; register a new agent instead`);
    this.name = 'AgentRevoked';
  }
}

type Row = Awaited<ReturnType<typeof findRows>>[number];

function findRows(db: Db, where: { id?: string }, page?: AgentPage) {
  return db.agent.findMany({
    where: { ...where, ...(page?.after ? { id: { gt: page.after } } : {}) },
    include: { projects: true },
    orderBy: page ? { id: 'asc' } : { createdAt: 'asc' },
    ...(page ? { take: page.limit } : {}),
  });
}

/** What `present` reads of an agent's row. */
type Presentable = Pick<
  Row,
  | 'id'
  | 'name'
  | 'allProjects'
  | 'createdAt'
  | 'lastSeenAt'
  | 'expiresAt'
  | 'revokedAt'
  | 'rotatedAt'
> & { projects: Array<{ projectId: string }> };

function present(row: Presentable): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    projectIds: row.allProjects ? ALL_PROJECTS : row.projects.map((p) => p.projectId).sort(),
    createdAt: row.createdAt.toISOString(),
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    rotatedAt: row.rotatedAt?.toISOString() ?? null,
  };
}

/** Records an agent and its projects; a retry after success returns the same agent. */
export async function insertAgent(db: Db, agent: NewAgent): Promise<AgentRecord> {
  // Registrations from before explicit scopes: no projects meant every project.
  const allProjects = agent.allProjects ?? agent.projectIds.length === 0;
  const projectIds = allProjects ? [] : [...new Set(agent.projectIds)];
  return await db.$transaction(async (tx) => {
    const existing = await tx.agent.findUnique({
      where: { id: agent.id },
      include: { projects: true },
    });
    if (existing) return present(existing);
    const found = await tx.project.findMany({
      where: { id: { in: projectIds } },
      select: { id: true },
    });
    const missing = projectIds.filter((id) => !found.some((p) => p.id === id));
    if (missing.length > 0) throw new UnknownProjects(missing);
    const row = await tx.agent.create({
      data: {
        id: agent.id,
        name: agent.name,
        tokenHash: agent.tokenHash,
        allProjects,
        expiresAt: agent.expiresAt ? new Date(agent.expiresAt) : null,
        projects: { create: projectIds.map((projectId) => ({ projectId })) },
      },
      include: { projects: true },
    });
    return present(row);
  });
}

/**
 * Revokes an agent's token or replaces it. Idempotent: revoking twice keeps the first time, and
 * a rotation retried with the same new hash changes nothing more. `changed` runs in the same
 * transaction, only when this call changes the row (the audit entry of the change: a revocation
 * sent again is not one).
 */
export async function changeAgentCredentials(
  db: Db,
  change: AgentCredentialChange,
  changed: (sql: SqlRunner, agent: { id: string; name: string }) => Promise<void> = async () => {},
): Promise<AgentRecord> {
  return await db.$transaction(async (tx) => {
    const row = await tx.agent.findUnique({ where: { id: change.agentId } });
    if (!row) throw new UnknownAgent(change.agentId);
    if (change.action === 'revoke') {
      if (!row.revokedAt) {
        await tx.agent.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
        await changed(prismaRunner(tx), row);
      }
    } else if (row.tokenHash !== change.tokenHash) {
      if (row.revokedAt) throw new AgentRevoked(row.id);
      await tx.agent.update({
        where: { id: row.id },
        data: {
          tokenHash: change.tokenHash,
          rotatedAt: new Date(),
          ...(change.expiresAt ? { expiresAt: new Date(change.expiresAt) } : {}),
        },
      });
      await changed(prismaRunner(tx), row);
    }
    return present(
      await tx.agent.findUniqueOrThrow({ where: { id: row.id }, include: { projects: true } }),
    );
  });
}

/**
 * The agent whose token has this hash, if the token still works: not revoked, not expired.
 * Asked by every agent request whose token this process has not seen within a second (an agent
 * calling less often than that: each call), so it is one statement sent by the driver (db/sql.ts),
 * the agent's row with its projects, rather than Prisma's two. Times are read as the text MySQL
 * stores, UTC as Prisma writes it.
 */
export async function findActiveAgentByTokenHash(
  db: Db,
  tokenHash: string,
): Promise<AgentRecord | undefined> {
  const rows = await db.sql.execute<
    Array<{
      id: string;
      name: string;
      allProjects: number | boolean;
      createdAt: string;
      lastSeenAt: string | null;
      expiresAt: string | null;
      revokedAt: string | null;
      rotatedAt: string | null;
      projectId: string | null;
    }>
  >(
    {
      sql:
        'SELECT a.id, a.name, a.allProjects, a.createdAt, a.lastSeenAt, a.expiresAt, a.revokedAt, a.rotatedAt, p.projectId ' +
        'FROM agents a LEFT JOIN agent_projects p ON p.agentId = a.id WHERE a.tokenHash = ?',
      dateStrings: true,
    },
    [tokenHash],
  );
  const row = rows[0];
  if (!row || row.revokedAt !== null) return undefined;
  const time = (text: string | null) => (text === null ? null : storedTime(text));
  const expiresAt = time(row.expiresAt);
  // A stored expiry that does not read as a time expires the token rather than keep it alive.
  if (expiresAt && !(expiresAt.getTime() > Date.now())) return undefined;
  return present({
    id: row.id,
    name: row.name,
    allProjects: Boolean(row.allProjects),
    projects: rows.flatMap((r) => (r.projectId === null ? [] : [{ projectId: r.projectId }])),
    createdAt: storedTime(row.createdAt),
    lastSeenAt: time(row.lastSeenAt),
    expiresAt,
    revokedAt: null,
    rotatedAt: time(row.rotatedAt),
  });
}

/** One agent, revoked or not. */
export async function findAgent(db: Db, id: string): Promise<AgentRecord | undefined> {
  const [row] = await findRows(db, { id });
  return row ? present(row) : undefined;
}

/** A page of agents by id: the first `limit` after `after`. */
export interface AgentPage {
  after?: string;
  limit: number;
}

export async function listAgents(db: Db, page: AgentPage): Promise<AgentRecord[]> {
  return (await findRows(db, {}, page)).map(present);
}
