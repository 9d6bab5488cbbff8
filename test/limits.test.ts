import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { PrivateRedis } from './support/redis-server';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** A raw JSON POST from `localAddress` (any 127/8 address reaches the API on Linux). */
function postFrom(
  url: string,
  body: unknown,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; retryAfter?: string; body: any }> {
  const target = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        localAddress,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            body: text ? JSON.parse(text) : undefined,
          }),
        );
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}

/** A POST to /mcp with `token` (none when empty) from `localAddress`. */
function mcpPost(url: string, token: string, body: unknown, localAddress = '127.0.0.1') {
  return postFrom(`${url}/mcp`, body, localAddress, {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    accept: 'application/json, text/event-stream',
  });
}

/** A sign-in from `localAddress`. */
function signIn(url: string, body: { email: string; password: string }, localAddress: string) {
  return postFrom(`${url}/api/auth/login`, body, localAddress);
}

const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });

/** A client address of the test's own, elsewhere in 127/8. */
function ownAddress(): string {
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return `127.${byte()}.${byte()}.${byte()}`;
}

describe('request limits', () => {
  const taskQueue = uniqueTaskQueue('limits');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let redis: PrivateRedis;
  let admin: ReturnType<typeof apiClient>;
  let projectId: string;
  const register = async (name: string) =>
    (await admin.post('/api/agents', { name, projectIds: [projectId] })).body as {
      agentId: string;
      token: string;
    };

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    // Limits are counted in Redis, per address: other test files fail authentications from
    // 127.0.0.1 at the same time, so this API keeps its counts in a Redis of its own.
    redis = await PrivateRedis.start();
    api = await startTestApi({
      redisUrl: redis.url,
      taskQueue,
      limits: { agentRequestsPerSecond: 20, agentConcurrentRequests: 8, authFailuresPerMinute: 10 },
      progressIntervalMs: 1000,
    });
    admin = apiClient(api.url, api.adminToken);
    projectId = (await createProject(admin, { name: `limits-${randomUUID()}` })).id;
  });
  afterAll(async () => {
    await api.close();
    await redis.stop();
    await worker.stop();
  });

  it('answers a burst from one agent with 429s and Retry-After, never 5xx, and leaves other agents alone', async () => {
    const noisy = await register('noisy');
    const calm = await register('calm');
    const noisyAddress = ownAddress();
    const calmAddress = ownAddress();
    const burst = await Promise.all(
      Array.from({ length: 200 }, (_, i) => mcpPost(api.url, noisy.token, ping(i), noisyAddress)),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    const refused = burst.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      // MCP clients read JSON-RPC: the refusal is a JSON-RPC error.
      expect(r.body).toMatchObject({
        jsonrpc: '2.0',
        id: null,
        error: {
          message: expect.stringMatching(/retry after \d+ s/),
          data: { code: 'rate_limited' },
        },
      });
    }
    // Another agent is not limited by the noisy one.
    const other = await Promise.all(
      Array.from({ length: 5 }, (_, i) => mcpPost(api.url, calm.token, ping(i), calmAddress)),
    );
    expect(other.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('counts every message of a batch and refuses large batches', async () => {
    const agent = await register('batcher');
    const from = ownAddress();
    const big = await mcpPost(
      api.url,
      agent.token,
      Array.from({ length: 11 }, (_, i) => ping(i)),
      from,
    );
    expect(big.status).toBe(400);
    expect(big.body.error.message).toBe('a batch may carry at most 10 messages; this one has 11');
    const first = await mcpPost(
      api.url,
      agent.token,
      Array.from({ length: 10 }, (_, i) => ping(i)),
      from,
    );
    const second = await mcpPost(
      api.url,
      agent.token,
      Array.from({ length: 10 }, (_, i) => ping(i)),
      from,
    );
    const third = await mcpPost(
      api.url,
      agent.token,
      Array.from({ length: 10 }, (_, i) => ping(i)),
      from,
    );
    // 20 messages a second: the third batch within the same second is over the limit.
    expect([first.status, second.status, third.status]).toContain(429);
  });

  it('throttles an address that keeps failing authentication, even with a good token after', async () => {
    const agent = await register('victim-of-neighbour');
    const address = ownAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      statuses.push((await mcpPost(api.url, `aw_guess-${i}`, ping(i), address)).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const blocked = await mcpPost(api.url, agent.token, ping(1), address);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    // Other addresses are not affected.
    expect((await mcpPost(api.url, agent.token, ping(2), ownAddress())).status).toBe(200);
    // Asking without a token guesses nothing and is not counted (git and HTTP clients ask
    // without credentials first).
    const asking = ownAddress();
    for (let i = 0; i < 12; i += 1) {
      expect((await mcpPost(api.url, '', ping(i), asking)).status).toBe(401);
    }
    expect((await mcpPost(api.url, agent.token, ping(3), asking)).status).toBe(200);
  });

  it('counts the client a trusted proxy names, and only a trusted proxy', async () => {
    // Another API process on the same counts, behind a proxy at 127.0.0.2.
    const proxied = await startTestApi({
      redisUrl: redis.url,
      taskQueue,
      limits: { authFailuresPerMinute: 10 },
      trustedProxies: ['127.0.0.2'],
    });
    try {
      const agent = await register('behind-a-proxy');
      const client = `198.51.100.${1 + Math.floor(Math.random() * 254)}`;
      const viaProxy = (token: string, forwardedFor: string) =>
        postFrom(`${proxied.url}/mcp`, ping(1), '127.0.0.2', {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          accept: 'application/json, text/event-stream',
          'x-forwarded-for': forwardedFor,
        });
      const statuses: number[] = [];
      for (let i = 0; i < 11; i += 1) {
        // What the client wrote itself, left of the proxy's entry, changes nothing.
        statuses.push((await viaProxy(`aw_guess-${i}`, `10.9.9.${i}, ${client}`)).status);
      }
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
      // The guessing client is refused; another client through the same proxy is not.
      expect((await viaProxy(agent.token, client)).status).toBe(429);
      expect((await viaProxy(agent.token, '198.51.100.0')).status).toBe(200);
      // From anywhere else the header is not believed: the connection's address counts.
      const direct = ownAddress();
      const fromElsewhere: number[] = [];
      for (let i = 0; i < 11; i += 1) {
        const res = await postFrom(`${proxied.url}/mcp`, ping(i), direct, {
          authorization: `Bearer aw_guess-${i}`,
          accept: 'application/json, text/event-stream',
          'x-forwarded-for': `203.0.113.${i + 1}`,
        });
        fromElsewhere.push(res.status);
      }
      expect(fromElsewhere).toEqual([...Array(10).fill(401), 429]);
    } finally {
      await proxied.close();
    }
  });

  it('throttles failed sign-ins per account, from however many addresses', async () => {
    const email = `guessed-${randomUUID().slice(0, 8)}@example.com`;
    const { password } = (await admin.post('/api/users', { email, name: 'g', role: 'viewer' }))
      .body;
    for (let i = 0; i < 10; i += 1) {
      const wrong = await signIn(api.url, { email, password: `guess-${i}` }, ownAddress());
      expect(wrong.status).toBe(401);
    }
    const blocked = await signIn(api.url, { email, password }, ownAddress());
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.message).toMatch(/^too many failed sign-ins for this account lately/);
    // Attempts sent all at once are counted before they are checked: no more than the budget
    // get an answer other than 429.
    const burst = `burst-${randomUUID().slice(0, 8)}@example.com`;
    await admin.post('/api/users', { email: burst, name: 'b', role: 'viewer' });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        signIn(api.url, { email: burst, password: `guess-${i}` }, ownAddress()),
      ),
    );
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(20);
    // Other accounts, from the same addresses, are not affected.
    const other = `other-${randomUUID().slice(0, 8)}@example.com`;
    const created = (await admin.post('/api/users', { email: other, name: 'o', role: 'viewer' }))
      .body;
    expect(
      (await signIn(api.url, { email: other, password: created.password }, ownAddress())).status,
    ).toBe(200);
  });

  it('coalesces progress reports: one reaches the workflow per interval, the latest one last', async () => {
    const agent = await register('chatty');
    const from = ownAddress();
    const tool = async (name: string, args: Record<string, unknown>) => {
      const res = await mcpPost(
        api.url,
        agent.token,
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } },
        from,
      );
      expect(res.status).toBe(200);
      return res.body.result.structuredContent;
    };
    const created = await admin.post('/api/tasks', {
      projectId,
      title: 'talk',
      description: 'a lot',
    });
    const taskId = created.body.id as string;
    expect((await tool('get_next_task', { projectId })).task.id).toBe(taskId);
    const outcomes: string[] = [];
    for (let i = 1; i <= 10; i += 1) {
      outcomes.push((await tool('report_progress', { taskId, message: `step ${i}` })).outcome);
    }
    expect(outcomes[0]).toBe('recorded');
    expect(outcomes).toContain('coalesced');
    const notes = async () =>
      (
        (await admin.get(`/api/tasks/${taskId}/events`)).body.events as Array<{
          type: string;
          data: { message: string };
        }>
      )
        .filter((e) => e.type === 'task:progress')
        .map((e) => e.data.message);
    // The last word arrives once the interval is over.
    for (let i = 0; i < 300 && !(await notes()).includes('step 10'); i += 1) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = await notes();
    expect(seen[0]).toBe('step 1');
    expect(seen[seen.length - 1]).toBe('step 10');
    expect(seen.length).toBeLessThan(10);
  });
});
