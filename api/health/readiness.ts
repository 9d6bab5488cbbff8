import type { Redis } from 'ioredis';
import { pingDb } from '../../db/client';
import type { Db } from '../../db/client';
import { pingTemporal } from '../../platform/temporal';
import type { TemporalHandle } from '../../platform/temporal';
import { withTimeout } from '../../platform/with-timeout';
import { failingWorkflowsQuery } from '../../platform/workflow-health';

export type DependencyName = 'temporal' | 'mysql' | 'redis';
export type Readiness = Record<DependencyName, 'up' | 'down'>;

export interface ReadinessDeps {
  temporal: TemporalHandle;
  namespace: string;
  taskQueue: string;
  db: Db;
  redis: Redis;
}

const TIMEOUT_MS = 2000;

/** Asks Temporal, MySQL and Redis in parallel; each gets two seconds. */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const probe = async (p: () => Promise<unknown>, what: string) => {
    try {
      await withTimeout(p(), TIMEOUT_MS, what);
      return 'up' as const;
    } catch {
      return 'down' as const;
    }
  };
  const [temporal, mysql, redis] = await Promise.all([
    probe(() => pingTemporal(deps.temporal, deps.namespace, TIMEOUT_MS), 'temporal'),
    probe(() => pingDb(deps.db), 'mysql'),
    probe(() => deps.redis.ping(), 'redis'),
  ]);
  return { temporal, mysql, redis };
}

/**
 * How many workflows Temporal reports failing on every workflow task (e.g. tasks a new release
 * cannot replay), or null when Temporal does not answer in time. It does not change readiness:
 * the process serves every other task; an operator looks at GET /api/health/workflows.
 */
export async function countFailingWorkflows(deps: ReadinessDeps): Promise<number | null> {
  // On the probe channel (no retries): the answer comes within the deadline, or not at all.
  const { probe } = deps.temporal;
  try {
    const { count } = await probe.withDeadline(Date.now() + TIMEOUT_MS, () =>
      probe.workflowService.countWorkflowExecutions({
        namespace: deps.namespace,
        query: failingWorkflowsQuery(deps.taskQueue),
      }),
    );
    return Number(count ?? 0);
  } catch {
    return null;
  }
}
