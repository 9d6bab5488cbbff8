// `npm run api`: REST, socket.io and the MCP endpoint on one port, until SIGINT/SIGTERM.
import { createDb } from '../db/client';
import { loadConfigOrExit } from '../platform/config';
import { createLogger } from '../platform/logger';
import { createRedis } from '../platform/redis';
import { createTemporalClient } from '../platform/temporal';
import { createAuthenticator } from './middleware/auth';
import { startApiServer } from './server';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const root = createLogger(config);
  const logger = root.child({ scope: 'api' });
  if (!config.adminToken) {
    process.stderr.write(
      'api: AIWORKER_ADMIN_TOKEN is not set. `npm start` generates one; to run the API alone, set it (at least 24 characters).\n',
    );
    process.exit(1);
  }
  const temporal = createTemporalClient(config);
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl, root.child({ scope: 'api.redis' }));
  const server = await startApiServer(
    {
      logger: root,
      temporal,
      namespace: config.temporal.namespace,
      db,
      redis,
      authenticate: createAuthenticator(config.adminToken),
    },
    config.host,
    config.port,
  );
  logger.info({ url: server.url }, 'api listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    await server.close();
    await Promise.allSettled([temporal.close(), db.$disconnect()]);
    redis.disconnect();
    process.exit(0);
  };
  process.on('SIGINT', (s) => void stop(s));
  process.on('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
