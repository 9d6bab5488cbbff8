import express from 'express';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Logger } from '../platform/logger';
import type { TemporalHandle } from '../platform/temporal';
import { mcpRoutes } from '../mcp/http';
import type { TaskWakeups } from '../mcp/wakeups';
import { agentRoutes } from './agents/agents';
import type { ReadCache } from './cache';
import type { AgentCredentialChanges } from './credential-changes';
import { eventRoutes } from './events/events';
import { gitRoutes } from './git/gateway';
import { healthRoutes } from './health/health';
import { workflowHealthRoutes } from './health/workflows';
import { mergeRoutes } from './merges/merges';
import { requireAdmin, requireAuth } from './middleware/auth';
import type { Authenticator } from './middleware/auth';
import { errorHandler, notFound, requireJsonBody } from './middleware/errors';
import { projectRoutes } from './projects/projects';
import { sessionRoutes } from './session/session';
import { taskRoutes } from './tasks/tasks';
import { webRoutes } from './web/web';

/** Everything a request handler may use; built once per process by api/main.ts. */
export interface ApiDeps {
  /** The root logger; each component takes a child with its own scope. */
  logger: Logger;
  temporal: TemporalHandle;
  namespace: string;
  taskQueue: string;
  questionReminderMs: number;
  leaseMs: number;
  db: Db;
  redis: Redis;
  cache: ReadCache;
  authenticate: Authenticator;
  /** Announces revoked and rotated agents, so open connections of theirs end. */
  credentialChanges: AgentCredentialChanges;
  /** Wakes long-polling MCP calls when tasks change. */
  wakeups: TaskWakeups;
  /** The Gitea service account (GITEA_*) the git gateway relays with, or null; agents never get it. */
  gitea: { username: string; token: string } | null;
  /** Where people and agents reach this API (`AIWORKER_PUBLIC_URL`): clone URLs are built on it. */
  publicUrl: string;
  /** The git gateway (`api/git/`): where local projects' repositories are, and its body limit. */
  git: { reposDir: string; bodyLimitBytes: number };
}

/** Largest JSON body the API accepts; larger ones get 413 before any handler runs. */
export const BODY_LIMIT = '256kb';

/**
 * The HTTP application: health, the API and MCP behind a bearer token, then the board's static
 * files (public: the board asks for the token and sends it with every API call).
 */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(healthRoutes(deps));
  app.use(gitRoutes(deps));
  const auth = requireAuth(deps.authenticate);
  app.use(
    '/mcp',
    auth,
    requireJsonBody,
    express.json({ limit: BODY_LIMIT, strict: true }),
    mcpRoutes(deps),
  );
  app.use(
    '/api',
    auth,
    requireJsonBody,
    express.json({ limit: BODY_LIMIT, strict: true }),
    sessionRoutes(),
    requireAdmin,
    agentRoutes(deps),
    projectRoutes(deps),
    taskRoutes(deps),
    mergeRoutes(deps),
    eventRoutes(deps),
    workflowHealthRoutes(deps),
  );
  app.use(webRoutes());
  app.use(notFound);
  app.use(errorHandler(deps.logger.child({ scope: 'api.http' })));
  return app;
}
