import express from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Logger } from '../platform/logger';
import type { TemporalHandle } from '../platform/temporal';
import { mcpRoutes } from '../mcp/http';
import type { ProgressCoalescer } from '../mcp/progress';
import type { TaskWakeups } from '../mcp/wakeups';
import type { McpCancellations } from '../mcp/cancellations';
import { agentRoutes } from './agents/agents';
import type { ReadCache } from './cache';
import type { AgentCredentialChanges } from './credential-changes';
import { auditRoutes } from './audit/audit';
import { webhookRoutes } from './webhooks/webhooks';
import { eventRoutes } from './events/events';
import { gitRoutes } from './git/gateway';
import { healthRoutes } from './health/health';
import { workflowHealthRoutes } from './health/workflows';
import { mergeRoutes } from './merges/merges';
import { requireAuth, requirePerson } from './middleware/auth';
import type { PeopleAuth } from './middleware/auth';
import { authRoutes, firstAdminRoutes, tokenRoutes, userRoutes } from './people/people';
import { oidcRoutes } from './people/oidc';
import type { OidcSettings } from './people/oidc';
import type { Authenticator } from './middleware/auth';
import { limitRequests } from './middleware/limits';
import type { RequestLimits } from './middleware/limits';
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
  /** The Gitea service account (GITEA_*) the git gateway relays with, or null; agents never get it. */
  gitea: { username: string; token: string } | null;
  /** Where people and agents reach this API (`AIWORKER_PUBLIC_URL`): clone URLs are built on it. */
  publicUrl: string;
  /** The git gateway (`api/git/`): where local projects' repositories are, and its body limit. */
  git: { reposDir: string; bodyLimitBytes: number };
}

/** Most JSON-RPC messages one POST to /mcp may carry. */
export const MAX_MCP_BATCH = 10;

/** Refuses an MCP batch larger than MAX_MCP_BATCH, as a JSON-RPC error. */
const limitBatches: express.RequestHandler = (req, res, next) => {
  if (Array.isArray(req.body) && req.body.length > MAX_MCP_BATCH) {
    res.status(400).json({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: `a batch may carry at most ${MAX_MCP_BATCH} messages; this one has ${req.body.length}`,
      },
    });
    return;
  }
  next();
};

/**
 * Security headers on every answer (`helmet`): a Content-Security-Policy that lets the board load
 * only its own scripts, styles, images and connections (socket.io included) and be framed by no
 * one, `nosniff`, no referrer across origins. No `upgrade-insecure-requests`: a board on plain
 * http (one machine, a LAN) must keep working; behind https, HSTS applies.
 */
const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      // React sets element styles through the DOM; the built CSS is a file. Inline style
      // attributes are allowed, inline scripts never.
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
});

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
  app.use(securityHeaders);
  app.use(healthRoutes(deps));
  app.use(gitRoutes(deps));
  const auth = requireAuth(deps.authenticate, deps.limits, deps.people);
  app.use(
    '/mcp',
    auth,
    requireJsonBody,
    express.json({ limit: BODY_LIMIT, strict: true }),
    limitBatches,
    // Each message of a JSON-RPC batch counts as a request.
    limitRequests(deps.limits, (req) => (Array.isArray(req.body) ? req.body.length : 1)),
    mcpRoutes(deps),
  );
  // Sign-in and sign-out: before authentication, JSON only, small bodies.
  app.use(
    '/api/auth',
    requireJsonBody,
    express.json({ limit: BODY_LIMIT, strict: true }),
    authRoutes(deps),
    firstAdminRoutes(deps),
    oidcRoutes(deps),
  );
  app.use(
    '/api',
    auth,
    limitRequests(deps.limits),
    requireJsonBody,
    express.json({ limit: BODY_LIMIT, strict: true }),
    sessionRoutes(),
    requirePerson,
    userRoutes(deps),
    tokenRoutes(deps),
    agentRoutes(deps),
    projectRoutes(deps),
    taskRoutes(deps),
    mergeRoutes(deps),
    eventRoutes(deps),
    auditRoutes(deps),
    webhookRoutes(deps),
    workflowHealthRoutes(deps),
  );
  app.use(webRoutes());
  app.use(notFound);
  app.use(errorHandler(deps.logger.child({ scope: 'api.http' })));
  return app;
}
