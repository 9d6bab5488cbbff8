import { randomUUID } from 'node:crypto';
import type { AgentRecord } from '../../contracts/agent';
import { createAuthenticator } from './auth';

const ADMIN = 'a'.repeat(32);

/** An agent lookup that answers when told to, counting its calls. */
function slowLookup(agent: AgentRecord) {
  const waiting: Array<() => void> = [];
  const lookup = jest.fn(
    () =>
      new Promise<AgentRecord | undefined>((resolve) => {
        waiting.push(() => resolve(agent));
      }),
  );
  return { lookup, answer: () => waiting.splice(0).forEach((go) => go()) };
}

const agent: AgentRecord = {
  id: randomUUID(),
  name: 'a1',
  projectIds: '*',
  createdAt: new Date().toISOString(),
  lastSeenAt: null,
  expiresAt: null,
  revokedAt: null,
  rotatedAt: null,
};

describe('the authenticator', () => {
  it('looks a token up once for all the requests that carry it at the same time', async () => {
    const { lookup, answer } = slowLookup(agent);
    const authenticate = createAuthenticator(ADMIN, lookup);
    const all = Promise.all(Array.from({ length: 50 }, () => authenticate('aw_token')));
    answer();
    const principals = await all;
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(new Set(principals.map((p) => p?.kind === 'agent' && p.agentId))).toEqual(
      new Set([agent.id]),
    );
    // Remembered: the next request needs no lookup.
    await authenticate('aw_token');
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('does not remember a lookup that was under way when the agent was forgotten', async () => {
    const { lookup, answer } = slowLookup(agent);
    const authenticate = createAuthenticator(ADMIN, lookup);
    const before = authenticate('aw_token');
    authenticate.forget(agent.id);
    answer();
    await before;
    const after = authenticate('aw_token');
    answer();
    await after;
    expect(lookup).toHaveBeenCalledTimes(2);
  });
});
