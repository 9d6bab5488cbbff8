import { projectRoom, TASK_WAKEUP_CHANNEL } from '../contracts/events';
import type { TaskWakeup } from '../contracts/events';
import type { RecordedEvent } from '../contracts/events';
import type { TaskView } from '../contracts/task';
import { applyTaskChange } from '../db/tasks';
import type { LoggedEvent } from '../db/tasks';
import { bumpGenerations } from '../platform/cache-keys';
import type { ActivityDeps } from './deps';

/** Activities that keep the read model, the cache and the live board in step with task workflows. */
export function createProjectionActivities({ db, redis, emitter, logger }: ActivityDeps) {
  return {
    /**
     * Writes a task's change into MySQL (idempotent; see db/tasks.ts) and invalidates the cached
     * copies so the next read sees it. A Redis outage does not fail the write: the cache is then
     * unreachable for readers too, and `publishTaskEvents` invalidates again once Redis is back.
     */
    async projectTaskChange(change: {
      view: TaskView;
      version: number;
      events: RecordedEvent[];
    }): Promise<LoggedEvent[]> {
      const logged = await applyTaskChange(db, change);
      await bumpGenerations(redis, {
        taskId: change.view.id,
        projectId: change.view.projectId,
      }).catch((err: Error) =>
        logger.warn(
          { taskId: change.view.id, err: err.message },
          'cache invalidation deferred: redis unreachable',
        ),
      );
      return logged;
    },

    /** Invalidates the cache and sends the events to every subscribed board; retried until Redis answers. */
    async publishTaskEvents(input: {
      projectId: string;
      taskId: string;
      events: LoggedEvent[];
    }): Promise<void> {
      await bumpGenerations(redis, { taskId: input.taskId, projectId: input.projectId });
      const room = emitter.to(projectRoom(input.projectId));
      for (const e of input.events) {
        room.emit(e.type, { ...e.payload, projectId: input.projectId, seq: e.seq, at: e.at });
      }
      const wakeup: TaskWakeup = {
        projectId: input.projectId,
        taskId: input.taskId,
        types: input.events.map((e) => e.type),
      };
      await redis.publish(TASK_WAKEUP_CHANNEL, JSON.stringify(wakeup));
    },
  };
}
