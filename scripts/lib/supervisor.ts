/** One running process of a supervised part. */
export interface Running {
  /** Settles when the process ends, with how it ended (an exit code or a signal's name). */
  exited: Promise<string>;
  /** Stops it (SIGTERM, then SIGKILL) and resolves once it has ended. */
  stop(): Promise<void>;
}

/** A part of the system the supervisor keeps running. */
export interface Part {
  name: string;
  start(): Promise<Running>;
}

export interface SupervisorPolicy {
  /** A run shorter than this counts as a crash at start-up. */
  fastCrashMs: number;
  /** After this many fast crashes in a row, the supervisor gives up on the whole system. */
  maxFastCrashes: number;
  /** First wait before a restart; doubled after each fast crash, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_POLICY: SupervisorPolicy = {
  fastCrashMs: 30_000,
  maxFastCrashes: 5,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
};

/**
 * Keeps parts running: a part that ends while the system is not stopping is started again,
 * after a wait that grows while it keeps crashing at start-up, and the reason is logged each
 * time. It gives up (and `onGiveUp` stops everything) only when a part crashes at start-up
 * `maxFastCrashes` times in a row: something a restart will not fix.
 */
export class Supervisor {
  private stopping = false;
  private readonly running = new Map<string, Running>();
  private readonly waits = new Set<NodeJS.Timeout>();

  constructor(
    private readonly say: (line: string) => void,
    private readonly onGiveUp: (why: string) => void,
    private readonly policy: SupervisorPolicy = DEFAULT_POLICY,
  ) {}

  /** Starts a part and keeps it running; rejects if its first start fails. */
  async add(part: Part): Promise<void> {
    const running = await part.start();
    void this.keep(part, running);
  }

  private async keep(part: Part, first: Running): Promise<void> {
    let running = first;
    let started = Date.now();
    let fastCrashes = 0;
    for (;;) {
      this.running.set(part.name, running);
      const how = await running.exited;
      if (this.stopping) return;
      this.running.delete(part.name);
      const ranMs = Date.now() - started;
      fastCrashes = ranMs < this.policy.fastCrashMs ? fastCrashes + 1 : 0;
      if (fastCrashes >= this.policy.maxFastCrashes) {
        this.onGiveUp(
          `${part.name} ended (${how}) ${fastCrashes} times in a row within ` +
            `${this.policy.fastCrashMs / 1000} s of starting`,
        );
        return;
      }
      const waitMs = Math.min(
        this.policy.backoffMs * 2 ** Math.max(0, fastCrashes - 1),
        this.policy.maxBackoffMs,
      );
      this.say(
        `${part.name} ended unexpectedly (${how}) after ${Math.round(ranMs / 1000)} s; ` +
          `starting it again in ${waitMs / 1000} s`,
      );
      await new Promise<void>((resolve) => {
        const wait = setTimeout(() => {
          this.waits.delete(wait);
          resolve();
        }, waitMs);
        this.waits.add(wait);
      });
      if (this.stopping) return;
      started = Date.now();
      try {
        running = await part.start();
        if (this.stopping) {
          await running.stop();
          return;
        }
        this.say(`${part.name} is running again`);
      } catch (err) {
        // A start that fails counts as a crash at start-up.
        const why = err instanceof Error ? err.message : String(err);
        running = { exited: Promise.resolve(`it could not start: ${why}`), stop: async () => {} };
      }
    }
  }

  /** Stops restarting, then stops the parts, in the reverse of `order` (their names). */
  async stopAll(order: string[]): Promise<void> {
    this.stopping = true;
    for (const wait of this.waits) clearTimeout(wait);
    for (const name of [...order].reverse()) await this.running.get(name)?.stop();
  }
}
