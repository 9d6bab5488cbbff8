import type { Redis } from 'ioredis';
import { TASK_WAKEUP_CHANNEL } from '../contracts/events';
import type { TaskWakeup } from '../contracts/events';
import type { Logger } from '../platform/logger';
import { longPollWaits } from './metrics';
import type { LongPoll } from './metrics';

type Waiter = { match: (w: TaskWakeup) => boolean; wake: () => void };

/** A wake-up listener opened before reading the state it guards. */
export interface Watch {
  /** Resolves at the first matching change since `watch` was called, or after `ms`. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Stops listening; call it once done. */
  close(): void;
}

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
    // A wake-up published while the subscription was away is lost: after a reconnect every
    // waiting call re-reads its state.
    let subscribed = false;
    this.subscriber.on('ready', () => {
      if (subscribed) for (const waiter of this.waiters) waiter.wake();
      subscribed = true;
    });
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

  /**
   * Starts listening for matching changes now, before the caller reads the state it may wait
   * on: a change announced between that read and `wait` still wakes it (no lost wake-up). Each
   * wait is timed as one of `call`'s.
   */
  watch(call: LongPoll, match: (w: TaskWakeup) => boolean): Watch {
    let fired = false;
    let wake: (() => void) | undefined;
    const waiter: Waiter = {
      match,
      wake: () => {
        fired = true;
        wake?.();
      },
    };
    this.waiters.add(waiter);
    const stop = () => this.waiters.delete(waiter);
    return {
      wait: async (ms, signal) => {
        if (fired || ms <= 0 || signal?.aborted) return;
        const measured = longPollWaits.startTimer({ call });
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            wake = undefined;
            measured({ ended: fired ? 'woken' : signal?.aborted ? 'cancelled' : 'timed_out' });
            resolve();
          };
          const timer = setTimeout(done, ms);
          signal?.addEventListener('abort', done);
          wake = done;
        });
      },
      close: stop,
    };
  }

  close(): void {
    for (const waiter of this.waiters) waiter.wake();
    this.subscriber.disconnect();
  }
}
