import { Router } from 'express';
import type { Db } from '../../db/client';
import type { Logger } from '../../platform/logger';
import { registry, scrapeRefusal } from '../../platform/metrics';
import { ApiError } from '../errors';
import { refreshReadModelGauges } from './read-model';

export interface MetricsDeps {
  /** `AIWORKER_METRICS_TOKEN`: metrics are off without it. */
  metricsToken: string | undefined;
  db: Db;
  logger: Logger;
}

/**
 * `GET /metrics`: this API process's metrics in Prometheus's text format, for the bearer of the
 * metrics token only (its own token: Prometheus holds no person's or agent's credential).
 */
export function metricsRoutes(deps: MetricsDeps): Router {
  const router = Router();
  const logger = deps.logger.child({ scope: 'api.metrics' });
  router.get('/metrics', async (req, res) => {
    const refused = scrapeRefusal(deps.metricsToken, req.headers.authorization);
    if (refused) throw new ApiError(refused.status, refused.code, refused.message);
    await refreshReadModelGauges(deps.db, logger);
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
