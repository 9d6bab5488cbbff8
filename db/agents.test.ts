import { randomBytes, randomUUID } from 'node:crypto';
import {
  changeAgentCredentials,
  findActiveAgentByTokenHash,
  findAgent,
  insertAgent,
} from './agents';
import { closeDb } from './client';
import { openTestDb } from '../test/support/db';
import type { Db } from './client';
import { insertProject } from './projects';

/**
 * An agent's token is looked up by one statement of the driver's on every request the process has
 * not seen lately: it must answer what the Prisma read of the same agent answers, and nothing for
 * a token that no longer works.
 */
describe('looking an agent up by its token', () => {
  let db: Db;
  const projectIds: string[] = [];

  beforeAll(async () => {
    db = openTestDb(4);
    for (let i = 0; i < 3; i += 1) {
      const id = randomUUID();
      await insertProject(db, { id, name: `agents-${id}`, repository: { provider: 'local' } });
      projectIds.push(id);
    }
  });
  afterAll(async () => {
    await closeDb(db);
  });

  const hash = () => randomBytes(32).toString('hex');
  const register = async (fields: {
    projectIds?: string[];
    allProjects?: boolean;
    expiresAt?: string | null;
  }) => {
    const tokenHash = hash();
    const agent = await insertAgent(db, {
      id: randomUUID(),
      name: `agent ${randomUUID()}`,
      tokenHash,
      projectIds: fields.projectIds ?? [],
      ...(fields.allProjects !== undefined ? { allProjects: fields.allProjects } : {}),
      ...(fields.expiresAt !== undefined ? { expiresAt: fields.expiresAt } : {}),
    });
    return { agent, tokenHash };
  };

  it('answers the agent as its Prisma read does: its projects in order, or every project', async () => {
    const some = await register({ projectIds: [projectIds[2]!, projectIds[0]!, projectIds[1]!] });
    const all = await register({ allProjects: true });
    const none = await register({ projectIds: [], allProjects: false });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const expiring = await register({ projectIds: [projectIds[1]!], expiresAt: later });
    for (const { agent, tokenHash } of [some, all, none, expiring]) {
      const found = await findActiveAgentByTokenHash(db, tokenHash);
      expect(found).toEqual(await findAgent(db, agent.id));
    }
    expect((await findActiveAgentByTokenHash(db, some.tokenHash))?.projectIds).toEqual(
      [...projectIds].sort(),
    );
    expect((await findActiveAgentByTokenHash(db, all.tokenHash))?.projectIds).toBe('*');
    expect((await findActiveAgentByTokenHash(db, expiring.tokenHash))?.expiresAt).toBe(later);
  });

  it('answers nothing for an unknown, expired, revoked or replaced token', async () => {
    expect(await findActiveAgentByTokenHash(db, hash())).toBeUndefined();

    const expired = await register({
      projectIds: [projectIds[0]!],
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(await findActiveAgentByTokenHash(db, expired.tokenHash)).toBeUndefined();

    const revoked = await register({ projectIds: [projectIds[0]!] });
    await changeAgentCredentials(db, { agentId: revoked.agent.id, action: 'revoke' });
    expect(await findActiveAgentByTokenHash(db, revoked.tokenHash)).toBeUndefined();

    const rotated = await register({ projectIds: [projectIds[0]!] });
    const next = hash();
    await changeAgentCredentials(db, {
      agentId: rotated.agent.id,
      action: 'rotate',
      tokenHash: next,
      expiresAt: null,
    });
    expect(await findActiveAgentByTokenHash(db, rotated.tokenHash)).toBeUndefined();
    const now = await findActiveAgentByTokenHash(db, next);
    expect(now).toEqual(await findAgent(db, rotated.agent.id));
    expect(now?.rotatedAt).not.toBeNull();
  });
});
