// `npm run api`: REST, socket.io and the MCP endpoint on one port, until SIGINT/SIGTERM.
import { loadConfigOrExit } from '../platform/config';
import { createLogger } from '../platform/logger';
import { startTracing } from '../platform/tracing';
import { createApiDeps } from './deps';
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
  const tracing = startTracing(config, 'aiworker-api');
  const deps = createApiDeps(config, root, config.adminToken);
  const server = await startApiServer(deps, config.host, config.port);
  logger.info({ url: server.url }, 'api listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    await server.close();
    await deps.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', (s) => void stop(s));
  process.on('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
