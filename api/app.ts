import express from 'express';
import helmet from 'helmet';
import { allowedHostsOnly } from './mcp/allowed-hosts';
import { mcpRoutes } from './mcp/mcp';
import { agentRoutes } from './agents/agents';
import { auditRoutes } from './audit/audit';
import { webhookRoutes } from './webhooks/webhooks';
import { eventRoutes } from './events/events';
import { gitRoutes } from './git/gateway';
import { healthRoutes } from './health/health';
import { workflowHealthRoutes } from './health/workflows';
import { mergeRoutes } from './merges/merges';
import { measureRequests } from './metrics/http';
import { traceRequests } from './middleware/tracing';
import { metricsRoutes } from './metrics/metrics';
import type { ApiDeps } from './deps';
import { requireAuth, requirePerson } from './middleware/auth';
import { authRoutes, firstAdminRoutes, tokenRoutes, userRoutes } from './people/people';
import { oidcRoutes } from './people/oidc';
import { jsonBody } from './middleware/json-body';
import { clientAddresses, limitRequests } from './middleware/limits';
import {
  errorHandler,
  notFound,
  requestIds,
  requireJsonBody,
  writeDeadline,
  WRITE_DEADLINE_MS,
} from './middleware/errors';
import { currentRequest } from '../platform/request-context';
import { projectRoutes } from './projects/projects';
import { emptyBody, validate } from './validate';
import { sessionRoutes } from './session/session';
import { taskBatchBody } from './tasks/batch';
import { taskRoutes } from './tasks/tasks';
import { webRoutes } from './web/web';

/** Most JSON-RPC messages one POST to /mcp may carry. */
export const MAX_MCP_BATCH = 10;

/** Refuses an MCP batch larger than MAX_MCP_BATCH, as a JSON-RPC error. */
const limitBatches: express.RequestHandler = (req, res, next) => {
  if (Array.isArray(req.body) && req.body.length > MAX_MCP_BATCH) {
    const message = `a batch may carry at most ${MAX_MCP_BATCH} messages; this one has ${req.body.length}`;
    const requestId = currentRequest()?.requestId;
    res.status(400).json({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message,
        data: { code: 'invalid_request', message, retryable: false, requestId },
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
  // Express's own reading of proxy headers stays off: who a request comes from is worked out
  // once, by `clientAddresses` (AIWORKER_TRUSTED_PROXIES).
  app.set('trust proxy', false);
  const httpLog = deps.logger.child({ scope: 'api.http' });
  const handleError = errorHandler(httpLog);
  app.use(measureRequests);
  app.use(traceRequests);
  app.use(requestIds(httpLog));
  app.use(clientAddresses(deps.clientAddress));
  app.use(securityHeaders);
  // Every change answers within the deadline (MCP calls keep theirs per tool: some may wait).
  app.use('/api', writeDeadline(WRITE_DEADLINE_MS, handleError));
  app.use(healthRoutes(deps));
  // Its own token (AIWORKER_METRICS_TOKEN): Prometheus holds no person's or agent's credential.
  app.use(metricsRoutes(deps));
  app.use(gitRoutes(deps));
  const auth = requireAuth(deps.authenticate, deps.limits, deps.people);
  app.use(
    '/mcp',
    allowedHostsOnly(deps.mcpAllowedHosts),
    auth,
    requireJsonBody,
    jsonBody(BODY_LIMIT),
    limitBatches,
    // Each message of a JSON-RPC batch counts as a request.
    limitRequests(deps.limits, (req) => (Array.isArray(req.body) ? req.body.length : 1)),
    mcpRoutes(deps),
  );
  // Sign-in and sign-out: before authentication, JSON only, small bodies.
  app.use(
    '/api/auth',
    requireJsonBody,
    jsonBody(BODY_LIMIT),
    authRoutes(deps),
    firstAdminRoutes(deps),
    oidcRoutes(deps),
  );
  app.use(
    '/api',
    auth,
    limitRequests(deps.limits),
    requireJsonBody,
    // A batch of tasks may be larger (TASK_BATCH_BODY_LIMIT_BYTES); every other body is not.
    taskBatchBody,
    jsonBody(BODY_LIMIT),
    // A DELETE takes no body: one with content is refused rather than ignored.
    (req: express.Request, _res: express.Response, next: express.NextFunction) => {
      if (req.method === 'DELETE') validate(emptyBody, req.body, 'body');
      next();
    },
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
  app.use(handleError);
  return app;
}
