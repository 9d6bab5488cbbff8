import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger';

/** How a progress report was taken: written to the workflow now, or kept to be written shortly. */
export type ProgressOutcome = 'recorded' | 'coalesced';

/**
 * Keeps a chatty agent from growing its task's workflow history without bound: at most one
 * progress report per task reaches the workflow per interval, on every API process together
 * (a Redis key guards the interval). Reports in between are coalesced: the latest one is kept
 * in Redis and written when the interval ends, so the board always ends up with the last word.
 * Without Redis every report is written, as before.
 */
export class ProgressCoalescer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly redis: Redis,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async report(
    taskId: string,
    message: string,
    send: (message: string) => Promise<void>,
  ): Promise<ProgressOutcome> {
    if (this.intervalMs <= 0) {
      await send(message);
      return 'recorded';
    }
    const gate = `task:${taskId}:progress:gate`;
    const pending = `task:${taskId}:progress:pending`;
    let open: string | null;
    try {
      open = await this.redis.set(gate, '1', 'PX', this.intervalMs, 'NX');
    } catch {
      await send(message);
      return 'recorded';
    }
    if (open === 'OK') {
      await this.redis.del(pending).catch(() => undefined);
      await send(message);
      return 'recorded';
    }
    const ttl = await this.redis
      .multi()
      .set(pending, message, 'PX', this.intervalMs * 10)
      .pttl(gate)
      .exec()
      .then((r) => Number(r?.[1]?.[1] ?? this.intervalMs))
      .catch(() => null);
    if (ttl === null) {
      await send(message);
      return 'recorded';
    }
    this.flushLater(taskId, Math.max(ttl, 0) + 20, send);
    return 'coalesced';
  }

  /** Writes the latest kept report once the interval is over (whichever process gets it first). */
  private flushLater(taskId: string, delayMs: number, send: (message: string) => Promise<void>) {
    if (this.timers.has(taskId)) return;
    const timer = setTimeout(() => {
      this.timers.delete(taskId);
      void (async () => {
        const message = await this.redis.getdel(`task:${taskId}:progress:pending`);
        if (message === null) return;
        await this.report(taskId, message, send);
      })().catch((err: Error) =>
        this.logger.debug({ taskId, err: err.message }, 'a coalesced progress report was dropped'),
      );
    }, delayMs);
    timer.unref();
    this.timers.set(taskId, timer);
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
