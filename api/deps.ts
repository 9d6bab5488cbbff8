import path from 'node:path';
import { findActiveAgentByTokenHash } from '../db/agents';
import { createDb } from '../db/client';
import { ProgressCoalescer } from '../mcp/progress';
import { TaskWakeups } from '../mcp/wakeups';
import { McpCancellations } from '../mcp/cancellations';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import { createRedis } from '../platform/redis';
import { createTemporalClient } from '../platform/temporal';
import type { ApiDeps } from './app';
import { ReadCache } from './cache';
import { AgentCredentialChanges } from './credential-changes';
import { RequestLimits } from './middleware/limits';
import { createAuthenticator } from './middleware/auth';
import type { PeopleAuth } from './middleware/auth';
import { createUserResolver, SessionStore } from './people/sessions';
import { findActivePersonalToken, findUser } from '../db/users';

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
    gitea: config.gitea ? { username: config.gitea.username, token: config.gitea.token } : null,
    publicUrl: config.publicUrl,
    // The worker's local forge keeps its repositories here (worker/deps.ts).
    git: { reposDir: path.join(config.dataDir, 'repos'), bodyLimitBytes: config.gitBodyLimitBytes },
    async close() {
      wakeups.close();
      cancellations.close();
      credentialChanges.close();
      progress.close();
      await Promise.allSettled([temporal.close(), db.$disconnect()]);
      redis.disconnect();
    },
  };
}
