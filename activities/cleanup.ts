import { projectRoom } from '../contracts/events';
import type { TaskState } from '../contracts/task-state';
import { appendProjectEvent, deliveredEvent, findTask } from '../db/tasks';
import type { ActivityDeps } from './deps';

/** States whose task still needs its preview: a person is testing or has approved it. */
const NEEDED: ReadonlySet<TaskState> = new Set(['ready_to_test', 'approved']);

/** The clean-up that replaces the seed's `cleanup-queue` (see workflows/preview-cleanup.ts). */
export function createCleanupActivities({
  db,
  previews,
  emitter,
  logger,
  previewTtlMs,
}: ActivityDeps) {
  return {
    /** Removes every task preview that is no longer needed; answers what it removed and why. */
    async sweepPreviews(): Promise<Array<{ name: string; reason: string }>> {
      const removed: Array<{ name: string; reason: string }> = [];
      for (const preview of await previews.list()) {
        if (preview.taskId === null) continue; // a staging environment, kept by its merges
        const task = await findTask(db, preview.taskId);
        const age = Date.now() - Date.parse(preview.createdAt);
        let reason: string | null = null;
        if (!task) reason = 'its task no longer exists';
        else if (task.state === 'cancelled') reason = 'the task was cancelled';
        else if (task.state === 'staging') reason = 'the task was merged to staging';
        else if (age > previewTtlMs && !NEEDED.has(task.state))
          reason = `older than its time to live (${Math.round(previewTtlMs / 3_600_000)} h)`;
        if (!reason) continue;
        await previews.teardown(preview.name);
        removed.push({ name: preview.name, reason });
        logger.info({ preview: preview.name, reason }, 'preview removed');
        const event = await appendProjectEvent(db, {
          projectId: preview.projectId,
          taskId: task ? preview.taskId : null,
          type: 'preview:removed',
          payload: { taskId: preview.taskId, name: preview.name, reason },
        });
        emitter.to(projectRoom(preview.projectId)).emit('preview:removed', deliveredEvent(event));
      }
      return removed;
    },
  };
}
