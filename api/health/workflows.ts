import { Router } from 'express';
import { requireAdministrator } from '../middleware/auth';
import { listStuckTasks } from '../../db/tasks';
import { failingWorkflows } from '../../platform/workflow-health';
import type { ApiDeps } from '../deps';

/**
 * `GET /api/health/workflows` (people): the workflows Temporal reports failing on every workflow
 * task (any type: tasks, merge queues, batches) and the tasks the worker has marked stuck, for an
 * operator after an upgrade (docs/operations.md, "A stuck task").
 */
export function workflowHealthRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/health/workflows', requireAdministrator, async (_req, res) => {
    const [temporal, stuckTasks] = await Promise.all([
      failingWorkflows(deps.temporal.client, deps.taskQueue),
      listStuckTasks(deps.db),
    ]);
    res.json({
      failing: temporal.count,
      workflows: temporal.workflows,
      stuckTasks,
      checkedAt: new Date().toISOString(),
    });
  });
  return router;
}
