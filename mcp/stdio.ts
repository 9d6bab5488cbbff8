// `aiworker-mcp` (`npm run mcp:stdio`): the agent tools over stdio, for MCP clients that launch a
// command instead of calling /mcp. The agent's token comes from AIWORKER_AGENT_TOKEN. stdout
// carries the protocol, so every log line goes to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Emitter } from '@socket.io/redis-emitter';
import pino from 'pino';
import { tokenHash } from '../api/middleware/auth';
import { findAgentByTokenHash } from '../db/agents';
import { createDb } from '../db/client';
import { loadConfigOrExit } from '../platform/config';
import { createLogger } from '../platform/logger';
import { createRedis } from '../platform/redis';
import { createTemporalClient } from '../platform/temporal';
import { createServer } from './server';
import { TaskWakeups } from './wakeups';
import { AgentWork, boardEmitter } from './work';

function fail(message: string): never {
  process.stderr.write(`aiworker-mcp: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const root = createLogger(config, pino.destination(2));
  const logger = root.child({ scope: 'mcp.stdio' });
  if (!config.agentToken) {
    fail('set AIWORKER_AGENT_TOKEN to the token an agent got from POST /api/agents');
  }
  const temporal = createTemporalClient(config);
  const db = createDb(config.databaseUrl, { connectionLimit: 3 });
  const redis = createRedis(config.redisUrl, root.child({ scope: 'mcp.redis' }));
  const wakeups = new TaskWakeups(redis, root.child({ scope: 'mcp.wakeups' }));
  const emitter = new Emitter(redis);
  const agent = await findAgentByTokenHash(db, tokenHash(config.agentToken));
  if (!agent) fail('AIWORKER_AGENT_TOKEN does not belong to a registered agent');

  const work = new AgentWork(
    {
      client: temporal.client,
      db,
      redis,
      wakeups,
      emit: boardEmitter(emitter),
    },
    { agentId: agent.id, name: agent.name, projectIds: agent.projectIds },
  );
  const server = createServer(work);
  const transport = new StdioServerTransport();
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    wakeups.close();
    await Promise.allSettled([temporal.close(), db.$disconnect()]);
    redis.disconnect();
    process.exit(0);
  };
  transport.onclose = () => void close();
  process.stdin.on('end', () => void close());
  process.on('SIGINT', () => void close());
  process.on('SIGTERM', () => void close());
  await server.connect(transport);
  logger.info({ agentId: agent.id }, 'serving MCP over stdio');
}

main().catch((err: unknown) =>
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
