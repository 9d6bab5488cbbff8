import { projectRoom, TASK_WAKEUP_CHANNEL } from '../contracts/events';
import type { TaskWakeup } from '../contracts/events';
import type { RecordedEvent } from '../contracts/events';
import type { TaskView } from '../contracts/task';
import { applyTaskChange, deliveredEvent } from '../db/tasks';
import type { LoggedEvent } from '../db/tasks';
import { bumpGenerations } from '../platform/cache-keys';
import type { ActivityDeps } from './deps';
import { startWebhookDeliveries } from './webhooks';

/** Activities that keep the read model, the cache and the live board in step with task workflows. */
export function createProjectionActivities(deps: ActivityDeps) {
  const { db, redis, emitter, logger } = deps;
  /** Invalidates the cache and sends the events to every subscribed board. */
  async function publish(input: {
    projectId: string;
    taskId: string;
    events: LoggedEvent[];
  }): Promise<void> {
    const wakeup: TaskWakeup = {
      projectId: input.projectId,
      taskId: input.taskId,
      types: input.events.map((e) => e.type),
    };
    // The cached copies go stale and the calls waiting on the task wake in one round trip.
    await bumpGenerations(redis, { taskId: input.taskId, projectId: input.projectId }, (tx) =>
      tx.publish(TASK_WAKEUP_CHANNEL, JSON.stringify(wakeup)),
    );
    const room = emitter.to(projectRoom(input.projectId));
    for (const e of input.events) {
      room.emit(e.type, deliveredEvent(e));
    }
  }

  return {
    /**
     * Writes a task's change into MySQL (idempotent; see db/tasks.ts), then invalidates the
     * cached copies and publishes its events. A Redis outage does not fail the write: it answers
     * `published: false` and the workflow publishes later with `publishTaskEvents`.
     */
    async projectTaskChange(change: {
      view: TaskView;
      version: number;
      events: RecordedEvent[];
      /** False while earlier events of the task still wait to be published. */
      publish: boolean;
    }): Promise<{ events: LoggedEvent[]; published: boolean }> {
      const events = await applyTaskChange(db, change);
      const { id: taskId, projectId } = change.view;
      let published = false;
      if (change.publish) {
        try {
          await publish({ projectId, taskId, events });
          published = true;
        } catch (err) {
          logger.warn(
            { taskId, err: (err as Error).message },
            'publishing deferred: redis unreachable',
          );
        }
      }
      // After the publish, which boards and waiting calls are quicker to see. Should this fail,
      // the retried activity publishes again: boards drop what they have by `seq`, and a waiting
      // call woken twice reads the read model twice.
      await startWebhookDeliveries(deps, projectId, events);
      return { events, published };
    },

    /** Invalidates the cache and publishes events; retried by the workflow until Redis answers. */
    publishTaskEvents: publish,
  };
}
