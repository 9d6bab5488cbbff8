import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Connection } from '@temporalio/client';

/** The Schedule that sweeps previews (replaces the seed's BullMQ `cleanup-queue`), one per task queue. */
export function previewCleanupScheduleId(taskQueue: string): string {
  return `preview-cleanup-${taskQueue}`;
}

/**
 * Creates the preview clean-up Schedule, or updates its interval and task queue when it exists.
 * Every worker calls it at start; the Temporal server runs the Schedule, so sweeps go on while
 * any worker is up, and never overlap.
 */
export async function ensurePreviewCleanupSchedule(
  connection: Connection,
  opts: { namespace: string; taskQueue: string; everyMs: number },
): Promise<void> {
  const client = new Client({ connection, namespace: opts.namespace });
  const spec = { intervals: [{ every: opts.everyMs }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'previewCleanupWorkflow',
    taskQueue: opts.taskQueue,
  };
  try {
    await client.schedule.create({
      scheduleId: previewCleanupScheduleId(opts.taskQueue),
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule
      .getHandle(previewCleanupScheduleId(opts.taskQueue))
      .update((previous) => ({ ...previous, spec, action }));
  }
}
