import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/client';

/**
 * Registers an agent row for tests that act as an agent through the workflow directly (the
 * agent's token is not used there, so its hash is a placeholder).
 */
export async function registerTestAgent(db: Db, name = 'test agent'): Promise<string> {
  const id = randomUUID();
  await db.agent.create({ data: { id, name, tokenHash: id.replace(/-/g, '').padEnd(64, '0') } });
  return id;
}
