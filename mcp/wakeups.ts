import type { Redis } from 'ioredis';
import { TASK_WAKEUP_CHANNEL } from '../contracts/events';
import type { TaskWakeup } from '../contracts/events';
import type { Logger } from '../platform/logger';

type Waiter = { match: (w: TaskWakeup) => boolean; wake: () => void };

/**
 * Wakes long-polling MCP calls when a task changes: one Redis subscription per API process,
 * fanned out to the calls waiting in it. A call re-checks the read model after every wake-up (and
 * at its deadline), so a wake-up lost while Redis is down costs latency, never correctness.
 */
export class TaskWakeups {
  private readonly waiters = new Set<Waiter>();
  private readonly subscriber: Redis;

  constructor(redis: Redis, logger: Logger) {
    this.subscriber = redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber
      .subscribe(TASK_WAKEUP_CHANNEL)
      .catch((err: Error) => logger.warn({ err: err.message }, 'wake-up subscription failed'));
    this.subscriber.on('message', (_channel: string, message: string) => {
      let wakeup: TaskWakeup;
      try {
        wakeup = JSON.parse(message) as TaskWakeup;
      } catch {
        return;
      }
      for (const waiter of this.waiters) if (waiter.match(wakeup)) waiter.wake();
    });
  }

  /** Resolves when a matching change is announced, or after `ms`, whichever comes first. */
  async next(match: (w: TaskWakeup) => boolean, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const waiter: Waiter = { match, wake: done };
      const timer = setTimeout(done, ms);
      this.waiters.add(waiter);
      signal?.addEventListener('abort', done);
    });
  }

  close(): void {
    for (const waiter of this.waiters) waiter.wake();
    this.subscriber.disconnect();
  }
}
