import type { AgentRecord, NewAgent } from '../contracts/agent';
import type { Db } from './client';

/** Thrown by `insertAgent` when some of the agent's projects do not exist. */
export class UnknownProjects extends Error {
  constructor(readonly ids: string[]) {
    super(`no project ${ids.join(', ')}`);
    this.name = 'UnknownProjects';
  }
}

type Row = Awaited<ReturnType<typeof findRows>>[number];

function findRows(db: Db, where: { id?: string; tokenHash?: string }) {
  return db.agent.findMany({ where, include: { projects: true }, orderBy: { createdAt: 'asc' } });
}

function present(row: Row): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    projectIds: row.projects.map((p) => p.projectId).sort(),
    createdAt: row.createdAt.toISOString(),
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
  };
}

/** Records an agent and its projects; a retry after success returns the same agent. */
export async function insertAgent(db: Db, agent: NewAgent): Promise<AgentRecord> {
  return await db.$transaction(async (tx) => {
    const existing = await tx.agent.findUnique({
      where: { id: agent.id },
      include: { projects: true },
    });
    if (existing) return present(existing);
    const found = await tx.project.findMany({
      where: { id: { in: agent.projectIds } },
      select: { id: true },
    });
    const missing = agent.projectIds.filter((id) => !found.some((p) => p.id === id));
    if (missing.length > 0) throw new UnknownProjects(missing);
    const row = await tx.agent.create({
      data: {
        id: agent.id,
        name: agent.name,
        tokenHash: agent.tokenHash,
        projects: { create: [...new Set(agent.projectIds)].map((projectId) => ({ projectId })) },
      },
      include: { projects: true },
    });
    return present(row);
  });
}

/** The agent holding the token with this hash, if any. */
export async function findAgentByTokenHash(
  db: Db,
  tokenHash: string,
): Promise<AgentRecord | undefined> {
  const [row] = await findRows(db, { tokenHash });
  return row ? present(row) : undefined;
}

export async function listAgents(db: Db): Promise<AgentRecord[]> {
  return (await findRows(db, {})).map(present);
}
