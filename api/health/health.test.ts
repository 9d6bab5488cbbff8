import { io as connectSocket } from 'socket.io-client';
import { RESYNC_EVENT } from '../../contracts/events';
import { randomUUID } from 'node:crypto';
import { apiClient } from '../../test/support/http';
import { startTestApi } from '../../test/support/api';
import type { TestApi } from '../../test/support/api';
import { PrivateRedis } from '../../test/support/redis-server';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';

async function readyz(api: TestApi) {
  const res = await fetch(`${api.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function eventually<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

describe('health endpoints', () => {
  const taskQueue = uniqueTaskQueue('health');
  let redis: PrivateRedis;
  let api: TestApi;
  let worker: { stop(): Promise<void> } | undefined;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    api = await startTestApi({ redisUrl: redis.url, taskQueue });
  });
  afterAll(async () => {
    await api.close();
    await worker?.stop();
    await redis.stop();
  });

  it('/readyz is 503 while no worker polls the task queue, and 200 once one does', async () => {
    // The API's Redis client connects in the background: wait for it, so only workers are missing.
    const alone = await eventually(
      () => readyz(api),
      (r) => (r.body.checks as Record<string, string>).redis === 'up',
    );
    expect(alone).toEqual({
      status: 503,
      body: {
        error: {
          code: 'not_ready',
          message: `not ready: no worker polls the task queue ${taskQueue}`,
          retryable: true,
          retryAfterSeconds: 2,
          requestId: expect.any(String),
        },
        checks: { temporal: 'up', mysql: 'up', redis: 'up', workers: 'down' },
        workflows: { failing: 0 },
      },
    });
    // Logged once, under its request id, as every 5xx is.
    const requestId = (alone.body.error as { requestId: string }).requestId;
    expect(
      api
        .logs()
        .split('\n')
        .filter((l) => l.includes(requestId)),
    ).toEqual([expect.stringContaining('"level":40')]);
    worker = await startTestWorker({ taskQueue });
    const polled = await eventually(
      () => readyz(api),
      (r) => r.status === 200,
    );
    expect(polled.status).toBe(200);
  });

  it('/healthz answers without a token while the process is up', async () => {
    const res = await fetch(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when Temporal, MySQL and Redis all answer', async () => {
    const { status, body } = await eventually(
      () => readyz(api),
      (r) => r.status === 200,
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ready',
      checks: { temporal: 'up', mysql: 'up', redis: 'up', workers: 'up' },
      // Workflows Temporal reports failing on every workflow task (none here).
      workflows: { failing: 0 },
    });
  });

  it('/readyz is 503 naming Redis while Redis is stopped, and 200 again once it is back', async () => {
    // A board connected meanwhile is told to catch up once the server's event feed is back.
    const socket = connectSocket(api.url, {
      auth: { token: api.adminToken },
      transports: ['websocket'],
    });
    let resyncs = 0;
    socket.on(RESYNC_EVENT, () => (resyncs += 1));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    await redis.stop();
    const down = await eventually(
      () => readyz(api),
      (r) => r.status === 503,
    );
    expect(down.status).toBe(503);
    expect(down.body).toEqual({
      error: {
        code: 'not_ready',
        message: 'not ready: redis is down',
        retryable: true,
        retryAfterSeconds: 2,
        requestId: expect.any(String),
      },
      checks: { temporal: 'up', mysql: 'up', redis: 'down', workers: 'up' },
      workflows: { failing: 0 },
    });

    await redis.start();
    const up = await eventually(
      () => readyz(api),
      (r) => r.status === 200,
    );
    expect(up.status).toBe(200);
    expect(
      await eventually(
        () => Promise.resolve(resyncs),
        (n) => n > 0,
      ),
    ).toBeGreaterThan(0);
    socket.close();
  });
});

describe('a route whose dependency is down', () => {
  it('answers 503 when Temporal does not answer, and creates nothing', async () => {
    const { freePort } = await import('../../test/support/free-port');
    const api = await startTestApi({ temporalAddress: `127.0.0.1:${await freePort()}` });
    try {
      const name = `unreachable-${randomUUID()}`;
      // The Temporal client retries for about twenty seconds before it gives up; the write
      // deadline answers first, at 10 s, without claiming to know the outcome.
      const res = await apiClient(api.url, api.adminToken).post('/api/projects', { name });
      expect(res).toEqual({
        status: 503,
        body: {
          error: {
            code: 'timed_out',
            message: expect.stringMatching(/did not finish within 10 s/),
            retryable: true,
            retryAfterSeconds: 2,
            requestId: expect.any(String),
          },
        },
      });
      expect(await api.deps.db.project.count({ where: { name } })).toBe(0);
      // The Temporal client's own retries of the abandoned start (about twenty seconds) run
      // their course first: closing the connection under a pending retry throws in the SDK's
      // retry timer.
      await new Promise((r) => setTimeout(r, 25_000));
    } finally {
      await api.close();
    }
  }, 90_000);
});

describe('/readyz with several dependencies down', () => {
  it('names each one that does not answer', async () => {
    const { freePort } = await import('../../test/support/free-port');
    const closed = await freePort();
    const api = await startTestApi({
      databaseUrl: `mysql://nobody:x@127.0.0.1:${closed}/none`,
      temporalAddress: `127.0.0.1:${closed}`,
    });
    try {
      // Redis is reachable; wait for the new client's first connection so only the other two remain.
      const { status, body } = await eventually(
        () => readyz(api),
        (r) => (r.body.checks as Record<string, string>).redis === 'up',
      );
      expect(status).toBe(503);
      expect(body).toMatchObject({
        error: { code: 'not_ready', message: 'not ready: temporal, mysql are down' },
        checks: { temporal: 'down', mysql: 'down', redis: 'up', workers: 'unknown' },
        workflows: { failing: null },
      });

      // A route that needs the database answers 503 in words, not 500.
      const http = apiClient(api.url, api.adminToken);
      expect(await http.get('/api/projects')).toEqual({
        status: 503,
        body: {
          error: {
            code: 'not_ready',
            message: 'the database is unreachable; try again shortly',
            retryable: true,
            retryAfterSeconds: 2,
            requestId: expect.any(String),
          },
        },
      });
    } finally {
      await api.close();
    }
  });
});
