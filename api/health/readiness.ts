import { temporal } from '@temporalio/proto';
import type { Redis } from 'ioredis';
import { pingDb } from '../../db/client';
import type { Db } from '../../db/client';
import { pingTemporal } from '../../platform/temporal';
import type { TemporalHandle } from '../../platform/temporal';
import { withTimeout } from '../../platform/with-timeout';
import { failingWorkflowsQuery } from '../../platform/workflow-health';

export type DependencyName = 'temporal' | 'mysql' | 'redis' | 'workers';
/** `unknown`: whether workers poll cannot be told while Temporal does not answer. */
export type Readiness = Record<DependencyName, 'up' | 'down' | 'unknown'>;

export interface ReadinessDeps {
  temporal: TemporalHandle;
  namespace: string;
  taskQueue: string;
  db: Db;
  redis: Redis;
}

const TIMEOUT_MS = 2000;
/**
 * A worker counts as polling when Temporal saw one of its polls this recently: an idle worker's
 * long polls each last up to a minute, and it keeps several open at once.
 */
const POLLED_WITHIN_MS = 75_000;

/**
 * Whether a worker polls the task queue: Temporal lists the pollers of its workflow tasks and
 * when each last polled. Without one, nothing moves: every call would wait for its deadline.
 */
async function workersPolling(deps: ReadinessDeps): Promise<void> {
  const { probe } = deps.temporal;
  const { pollers } = await probe.withDeadline(Date.now() + TIMEOUT_MS, () =>
    probe.workflowService.describeTaskQueue({
      namespace: deps.namespace,
      taskQueue: {
        name: deps.taskQueue,
        kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
      },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    }),
  );
  const since = Date.now() - POLLED_WITHIN_MS;
  const recent = (pollers ?? []).some(
    (p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= since,
  );
  if (!recent) throw new Error(`no worker polls the task queue ${deps.taskQueue}`);
}

/** Asks Temporal, MySQL and Redis in parallel, and whether a worker polls; each gets two seconds. */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const probe = async (p: () => Promise<unknown>, what: string) => {
    try {
      await withTimeout(p(), TIMEOUT_MS, what);
      return 'up' as const;
    } catch {
      return 'down' as const;
    }
  };
  const [temporal, mysql, redis, workers] = await Promise.all([
    probe(() => pingTemporal(deps.temporal, deps.namespace, TIMEOUT_MS), 'temporal'),
    probe(() => pingDb(deps.db), 'mysql'),
    probe(() => deps.redis.ping(), 'redis'),
    probe(() => workersPolling(deps), 'workers'),
  ]);
  return { temporal, mysql, redis, workers: temporal === 'down' ? 'unknown' : workers };
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
