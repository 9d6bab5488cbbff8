import path from 'node:path';
import { findActiveAgentByTokenHash } from '../db/agents';
import { closeDb, createDb } from '../db/client';
import { ProgressCoalescer } from '../mcp/progress';
import { TaskWakeups } from '../mcp/wakeups';
import { McpCancellations } from '../mcp/cancellations';
import { AgentLogLevels } from '../mcp/logging';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import type { Db } from '../db/client';
import type { Redis } from 'ioredis';
import type { TemporalHandle } from '../platform/temporal';
import type { OidcSettings } from './people/oidc';
import type { Authenticator } from './middleware/auth';
import { createRedis } from '../platform/redis';
import { createTemporalClient } from '../platform/temporal';
import { ReadCache } from './cache';
import { AgentCredentialChanges } from './credential-changes';
import { RequestLimits } from './middleware/limits';
import { createAuthenticator } from './middleware/auth';
import type { PeopleAuth } from './middleware/auth';
import { createUserResolver, SessionStore } from './people/sessions';
import { findActivePersonalToken, findUser } from '../db/users';
import { createClientAddressResolver } from '../platform/client-address';

/** How often an open socket's credential is checked again (see `ApiDeps.socketRecheckMs`). */
export const SOCKET_RECHECK_MS = 10_000;

/** Everything a request handler may use; built once per process by api/main.ts. */
export interface ApiDeps {
  /** The root logger; each component takes a child with its own scope. */
  logger: Logger;
  temporal: TemporalHandle;
  namespace: string;
  taskQueue: string;
  questionReminderMs: number;
  leaseMs: number;
  /**
   * How often each open socket's credential is checked again: one that stopped working (a token
   * past its expiry, a session signed out or expired) ends its socket by the next check.
   */
  socketRecheckMs: number;
  db: Db;
  redis: Redis;
  cache: ReadCache;
  authenticate: Authenticator;
  /** People's board sessions and accounts (sign-in with a cookie). */
  people: PeopleAuth;
  /** The OpenID provider people may sign in with, or null. */
  oidc: OidcSettings | null;
  /** Announces revoked and rotated agents, so open connections of theirs end. */
  credentialChanges: AgentCredentialChanges;
  /** Per-token rate and concurrency limits, shared by every API process through Redis. */
  limits: RequestLimits;
  /** At most one progress report per task reaches its workflow per interval; the rest coalesce. */
  progress: ProgressCoalescer;
  /** Wakes long-polling MCP calls when tasks change. */
  wakeups: TaskWakeups;
  /** Cancels agents' MCP calls wherever they run. */
  cancellations: McpCancellations;
  /** The log level each agent chose over MCP (`logging/setLevel`). */
  mcpLogLevels: AgentLogLevels;
  /** Hosts `/mcp` answers to (`AIWORKER_MCP_ALLOWED_HOSTS`). */
  mcpAllowedHosts: string[];
  /** Who a request comes from, for the per-address limits (`AIWORKER_TRUSTED_PROXIES`). */
  clientAddress: (
    remote: string | undefined,
    forwardedFor: string | string[] | undefined,
  ) => string;
  /** The Gitea service account (GITEA_*) the git gateway relays with, or null; agents never get it. */
  gitea: { username: string; token: string } | null;
  /** Where people and agents reach this API (`AIWORKER_PUBLIC_URL`): clone URLs are built on it. */
  publicUrl: string;
  /** The git gateway (`api/git/`): where local projects' repositories are, and its body limit. */
  git: { reposDir: string; bodyLimitBytes: number };
  /** `AIWORKER_METRICS_TOKEN`, which reads `/metrics`; metrics are off without it. */
  metricsToken: string | undefined;
}

/** Connects everything an API process uses, once; `close` ends it all. */
export function createApiDeps(
  config: Pick<
    Config,
    | 'temporal'
    | 'databaseUrl'
    | 'redisUrl'
    | 'questionReminderMs'
    | 'leaseMs'
    | 'gitea'
    | 'oidc'
    | 'publicUrl'
    | 'dataDir'
    | 'gitBodyLimitBytes'
    | 'limits'
    | 'progressIntervalMs'
    | 'mcpAllowedHosts'
    | 'trustedProxies'
    | 'previews'
    | 'metricsToken'
  >,
  root: Logger,
  adminToken: string,
  opts: { connectionLimit?: number } = {},
): ApiDeps & { close(): Promise<void> } {
  const temporal = createTemporalClient(config);
  const db = createDb(config.databaseUrl, opts);
  const redis = createRedis(config.redisUrl, root.child({ scope: 'api.redis' }));
  const wakeups = new TaskWakeups(redis, root.child({ scope: 'mcp.wakeups' }));
  const cancellations = new McpCancellations(redis, root.child({ scope: 'mcp.cancellations' }));
  const authenticate = createAuthenticator(
    adminToken,
    (hash) => findActiveAgentByTokenHash(db, hash),
    (hash) => findActivePersonalToken(db, hash),
  );
  const credentialChanges = new AgentCredentialChanges(
    redis,
    root.child({ scope: 'api.credentials' }),
  );
  credentialChanges.onChange((agentId) => authenticate.forget(agentId));
  const users = createUserResolver((userId) => findUser(db, userId));
  credentialChanges.onUserChange((userId) => {
    users.forget(userId);
    authenticate.forgetPerson(userId);
  });
  const publicOrigin = new URL(config.publicUrl).origin;
  const people: PeopleAuth = {
    sessions: new SessionStore(redis),
    users,
    // The public URL's origin, and the origin the request itself was addressed to (the board
    // is served by this same process, so its pages' Origin is that one).
    boardOrigins: (host, secure) => [publicOrigin, `${secure ? 'https' : 'http'}://${host ?? ''}`],
    previewHost: config.previews.runtime === 'local' ? config.previews.localHost : null,
  };
  const progress = new ProgressCoalescer(
    redis,
    config.progressIntervalMs,
    root.child({ scope: 'mcp.progress' }),
  );
  return {
    logger: root,
    temporal,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    questionReminderMs: config.questionReminderMs,
    leaseMs: config.leaseMs,
    socketRecheckMs: SOCKET_RECHECK_MS,
    db,
    redis,
    cache: new ReadCache(redis, root.child({ scope: 'api.cache' })),
    authenticate,
    people,
    oidc: config.oidc,
    credentialChanges,
    limits: new RequestLimits(redis, config.limits, root.child({ scope: 'api.limits' })),
    progress,
    wakeups,
    cancellations,
    mcpLogLevels: new AgentLogLevels(redis),
    mcpAllowedHosts: config.mcpAllowedHosts,
    clientAddress: createClientAddressResolver(config.trustedProxies),
    gitea: config.gitea ? { username: config.gitea.username, token: config.gitea.token } : null,
    publicUrl: config.publicUrl,
    // The worker's local forge keeps its repositories here (worker/deps.ts).
    git: { reposDir: path.join(config.dataDir, 'repos'), bodyLimitBytes: config.gitBodyLimitBytes },
    metricsToken: config.metricsToken,
    async close() {
      wakeups.close();
      cancellations.close();
      credentialChanges.close();
      progress.close();
      await Promise.allSettled([temporal.close(), closeDb(db)]);
      redis.disconnect();
    },
  };
}
