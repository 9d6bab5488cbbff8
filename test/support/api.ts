import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { ApiDeps } from '../../api/deps';
import { createApiDeps } from '../../api/deps';
import { startApiServer } from '../../api/server';
import type { ApiServer } from '../../api/server';
import { loadConfig } from '../../platform/config';
import type { Config } from '../../platform/config';
import { createLogger } from '../../platform/logger';

/** An API server in this test process, on a free port, over the run's real Temporal, MySQL and Redis. */
export interface TestApi {
  server: ApiServer;
  url: string;
  adminToken: string;
  deps: ApiDeps;
  /** Everything the server logged, one JSON line each. */
  logs(): string;
  close(): Promise<void>;
}

export interface TestApiOptions {
  redisUrl?: string;
  databaseUrl?: string;
  temporalAddress?: string;
  taskQueue?: string;
  adminToken?: string;
  questionReminderMs?: number;
  leaseMs?: number;
  /** Request limits of this API (default: the run's, which are generous; see global-setup). */
  limits?: Partial<Config['limits']>;
  /** Progress reports per task reach the workflow at most this often (default: the run's). */
  progressIntervalMs?: number;
  /** MySQL connections of the API (default 3; tests with many agents at once need more). */
  connectionLimit?: number;
  /** A Gitea server for projects on Gitea (the test server of test/servers/gitea-server.ts). */
  gitea?: { url: string; token: string; username: string };
  /** Hosts /mcp answers to (default: the run's, the loopback names). */
  mcpAllowedHosts?: string[];
  /** The token that reads /metrics (default: the run's, none: metrics off). */
  metricsToken?: string;
  /** How often open sockets' credentials are checked again (default: the API's, 10 s). */
  socketRecheckMs?: number;
  /** Proxies whose X-Forwarded-For is believed (default: the run's, none). */
  trustedProxies?: string[];
}

/** The run's configuration with a test's overrides. */
export function testConfig(opts: TestApiOptions = {}): Config {
  const env = loadConfig(process.env);
  return {
    ...env,
    databaseUrl: opts.databaseUrl ?? env.databaseUrl,
    redisUrl: opts.redisUrl ?? env.redisUrl,
    questionReminderMs: opts.questionReminderMs ?? env.questionReminderMs,
    leaseMs: opts.leaseMs ?? env.leaseMs,
    limits: { ...env.limits, ...opts.limits },
    progressIntervalMs: opts.progressIntervalMs ?? env.progressIntervalMs,
    gitea: opts.gitea ?? env.gitea,
    mcpAllowedHosts: opts.mcpAllowedHosts ?? env.mcpAllowedHosts,
    metricsToken: opts.metricsToken ?? env.metricsToken,
    trustedProxies: opts.trustedProxies ?? env.trustedProxies,
    temporal: {
      ...env.temporal,
      address: opts.temporalAddress ?? env.temporal.address,
      taskQueue: opts.taskQueue ?? env.temporal.taskQueue,
    },
  };
}

export async function startTestApi(opts: TestApiOptions = {}): Promise<TestApi> {
  const config = testConfig(opts);
  const adminToken = opts.adminToken ?? randomBytes(24).toString('hex');
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const deps = createApiDeps(config, createLogger({ logLevel: 'debug' }, sink), adminToken, {
    connectionLimit: opts.connectionLimit ?? 3,
  });
  if (opts.socketRecheckMs !== undefined) deps.socketRecheckMs = opts.socketRecheckMs;
  const server = await startApiServer(deps, '127.0.0.1', 0);
  // Clone URLs (the git gateway's) point at where this server really listens.
  deps.publicUrl = server.url;
  return {
    server,
    url: server.url,
    adminToken,
    deps,
    logs: () => lines.join(''),
    async close() {
      await server.close();
      await deps.close();
    },
  };
}
