import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import { projectRoom } from '../contracts/events';
import type { EventPayloads } from '../contracts/events';
import { taskWorkflowId } from '../contracts/task';
import type { Db } from '../db/client';
import {
  appendProjectEvent,
  clearTaskStuck,
  deliveredEvent,
  listStuckTasks,
  markTaskStuck,
} from '../db/tasks';
import { bumpGenerations } from '../platform/cache-keys';
import type { Logger } from '../platform/logger';
import { failingWorkflowsQuery, workflowTaskFailure } from '../platform/workflow-health';
import { forgetExpiredWebhookSecrets } from '../db/webhooks';
import { startLeftTasks } from './task-starts';

const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;

export interface StuckTaskSweepDeps {
  client: Client;
  db: Db;
  redis: Redis;
  emitter: Emitter;
  logger: Logger;
  taskQueue: string;
}

/** Most workflows one sweep looks at: a release that breaks more than this breaks them all. */
const SWEEP_LIMIT = 500;

/**
 * One sweep: a task whose workflow fails every workflow task is marked stuck in the read model
 * (so `get_next_task` skips it and the board shows it), logged once at error level with
 * Temporal's own words, and announced with `task:stuck`; a marked task whose workflow runs again
 * is cleared and announced with `task:recovered`. Candidates come from Temporal's visibility
 * (eventually consistent) and the read model; each is confirmed with the workflow's own
 * description before anything changes.
 */
export async function sweepStuckTasks(
  deps: StuckTaskSweepDeps,
): Promise<{ stuck: string[]; recovered: string[] }> {
  const { client, db, logger } = deps;
  const reported = new Set<string>();
  for await (const wf of client.workflow.list({
    query: failingWorkflowsQuery(deps.taskQueue, 'taskWorkflow'),
    pageSize: 100,
  })) {
    reported.add(wf.workflowId.replace(/^task-/, ''));
    if (reported.size >= SWEEP_LIMIT) break;
  }
  const marked = new Set((await listStuckTasks(db)).map((t) => t.id));
  const result = { stuck: [] as string[], recovered: [] as string[] };
  for (const taskId of new Set([...reported, ...marked])) {
    // A workflow Temporal no longer knows is not failing; one it did not describe (busy or
    // away) is left as it is until a sweep that can tell.
    const failing = await workflowTaskFailure(client.workflow, taskWorkflowId(taskId)).catch(
      (err: unknown) => (err instanceof WorkflowNotFoundError ? null : undefined),
    );
    if (failing === undefined) continue;
    if (failing && !marked.has(taskId)) {
      const reason = reasonFor(failing.cause);
      const since = new Date();
      const projectId = await markTaskStuck(db, taskId, { since, reason });
      if (!projectId) continue; // not in the read model, or another worker marked it first
      logger.error(
        {
          taskId,
          workflowId: taskWorkflowId(taskId),
          runId: failing.runId,
          attempt: failing.attempt,
          failure: failing.message ?? 'its workflow task keeps timing out',
        },
        `task ${taskId} is stuck: ${reason}`,
      );
      await announce(deps, projectId, 'task:stuck', {
        taskId,
        since: since.toISOString(),
        reason,
      });
      result.stuck.push(taskId);
    } else if (!failing && marked.has(taskId)) {
      const projectId = await clearTaskStuck(db, taskId);
      if (!projectId) continue;
      logger.info({ taskId }, `task ${taskId} recovered: its workflow runs again`);
      await announce(deps, projectId, 'task:recovered', { taskId });
      result.recovered.push(taskId);
    }
  }
  return result;
}

/** Why a workflow task fails, in words for the people on the board (no library text). */
function reasonFor(cause: temporal.api.enums.v1.WorkflowTaskFailedCause | null): string {
  switch (cause) {
    case Cause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR:
      return (
        'the running workers cannot replay its workflow: their workflow code differs from the ' +
        'code that started it (nondeterminism); Temporal retries it until a compatible worker runs'
      );
    case Cause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE:
      return 'its workflow code fails with an error every time it runs; Temporal keeps retrying it';
    default:
      return 'its workflow task fails or times out on every attempt; Temporal keeps retrying it';
  }
}

async function announce<T extends 'task:stuck' | 'task:recovered'>(
  deps: StuckTaskSweepDeps,
  projectId: string,
  type: T,
  payload: EventPayloads[T],
): Promise<void> {
  const event = await appendProjectEvent(deps.db, {
    projectId,
    taskId: payload.taskId,
    type,
    payload,
  });
  try {
    await bumpGenerations(deps.redis, { taskId: payload.taskId, projectId });
    deps.emitter.to(projectRoom(projectId)).emit(type, deliveredEvent(event));
  } catch (err) {
    // The board catches up from the event log when Redis is back.
    deps.logger.warn(
      { taskId: payload.taskId, err: (err as Error).message },
      `${type}: not published`,
    );
  }
}

/**
 * Every `everyMs` until `signal` aborts: starts the workflows of tasks written without one
 * (`startLeftTasks`), runs `sweepStuckTasks`, and deletes webhook secrets whose creation never
 * ran (`forgetExpiredWebhookSecrets`). A failed sweep (Temporal or the database unreachable) is
 * logged and tried again at the next tick.
 */
export async function runTaskSweeps(
  deps: StuckTaskSweepDeps,
  everyMs: number,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await startLeftTasks(deps);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'task start sweep failed');
    }
    try {
      await sweepStuckTasks(deps);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'stuck-task sweep failed');
    }
    try {
      const forgotten = await forgetExpiredWebhookSecrets(deps.db);
      if (forgotten > 0) {
        deps.logger.info({ forgotten }, 'webhook secrets whose creation never ran were deleted');
      }
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'webhook secret sweep failed');
    }
    await sleep(everyMs, undefined, { signal }).catch(() => undefined);
  }
}
