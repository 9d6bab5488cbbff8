import { Router } from 'express';
import type { ErrorBody } from '../../contracts/errors';
import { checkReadiness, countFailingWorkflows } from './readiness';
import type { ReadinessDeps } from './readiness';

/**
 * `GET /healthz` (the process is up) and `GET /readyz` (its dependencies answer; it also counts
 * the workflows Temporal reports failing). No token needed.
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
    const down = Object.entries(checks)
      .filter(([, state]) => state === 'down')
      .map(([name]) => name);
    if (down.length === 0) {
      res.json({ status: 'ready', checks, workflows });
      return;
    }
    const body: ErrorBody & { checks: typeof checks; workflows: typeof workflows } = {
      error: {
        code: 'not_ready',
        message: `not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
      },
      checks,
      workflows,
    };
    res.status(503).json(body);
  });
  return router;
}
