import { Router } from 'express';
import type { ErrorBody } from '../../contracts/errors';
import { currentRequest } from '../../platform/request-context';
import { NotReadyError } from '../errors';
import { errorBody } from '../middleware/errors';
import { checkReadiness, countFailingWorkflows } from './readiness';
import type { ReadinessDeps } from './readiness';

/**
 * `GET /healthz` (the process is up) and `GET /readyz` (its dependencies answer and a worker
 * polls the task queue; it also counts the workflows Temporal reports failing). No token needed.
 */
export function healthRoutes(deps: ReadinessDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [checks, failing] = await Promise.all([
      checkReadiness(deps),
      countFailingWorkflows(deps),
    ]);
    const workflows = { failing };
    const down = (['temporal', 'mysql', 'redis'] as const).filter(
      (name) => checks[name] === 'down',
    );
    const missing = [
      ...(down.length > 0 ? [`${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`] : []),
      ...(checks.workers === 'down' ? [`no worker polls the task queue ${deps.taskQueue}`] : []),
    ];
    if (missing.length === 0 && checks.workers === 'up') {
      res.json({ status: 'ready', checks, workflows });
      return;
    }
    const notReady = new NotReadyError(`not ready: ${missing.join('; ')}`);
    // Every 5xx is logged once with its request id, a probe's too: while a dependency is away
    // the log says so at each probe.
    currentRequest()?.logger.warn({ status: 503, code: notReady.code, checks }, notReady.message);
    const body: ErrorBody & { checks: typeof checks; workflows: typeof workflows } = {
      ...errorBody(notReady, currentRequest()?.requestId),
      checks,
      workflows,
    };
    res.setHeader('Retry-After', String(notReady.retryAfterSeconds));
    res.status(503).json(body);
  });
  return router;
}
