import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createAuthenticator } from '../../api/middleware/auth';
import { startApiServer } from '../../api/server';
import type { ApiServer } from '../../api/server';
import { createDb } from '../../db/client';
import type { Db } from '../../db/client';
import { loadConfig } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { createRedis } from '../../platform/redis';
import { createTemporalClient } from '../../platform/temporal';

/** An API server in this test process, on a free port, over the run's real Temporal, MySQL and Redis. */
export interface TestApi {
  server: ApiServer;
  url: string;
  adminToken: string;
  redis: Redis;
  db: Db;
  /** Everything the server logged, one JSON line each. */
  logs(): string;
  close(): Promise<void>;
}

export async function startTestApi(
  opts: { redisUrl?: string; databaseUrl?: string; temporalAddress?: string } = {},
): Promise<TestApi> {
  const env = loadConfig(process.env);
  const config = {
    ...env,
    databaseUrl: opts.databaseUrl ?? env.databaseUrl,
    temporal: { ...env.temporal, address: opts.temporalAddress ?? env.temporal.address },
  };
  const adminToken = randomBytes(24).toString('hex');
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ logLevel: 'debug' }, sink);
  const temporal = createTemporalClient(config);
  const db = createDb(config.databaseUrl, { connectionLimit: 3 });
  const redis = createRedis(opts.redisUrl ?? config.redisUrl, logger.child({ scope: 'api.redis' }));
  const server = await startApiServer(
    {
      logger,
      temporal,
      namespace: config.temporal.namespace,
      db,
      redis,
      authenticate: createAuthenticator(adminToken),
    },
    '127.0.0.1',
    0,
  );
  return {
    server,
    url: server.url,
    adminToken,
    redis,
    db,
    logs: () => lines.join(''),
    async close() {
      await server.close();
      await Promise.allSettled([temporal.close(), db.$disconnect()]);
      redis.disconnect();
    },
  };
}
