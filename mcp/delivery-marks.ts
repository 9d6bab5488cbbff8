import type { ChainableCommander, Redis } from 'ioredis';
import { TASK_UPDATE_DEADLINE_MS } from '../platform/task-updates';

/** Marks a task claimed by an agent whose answer is not yet known to have reached it. */
const undeliveredKey = (agentId: string, taskId: string) => `mcp:undelivered:${agentId}:${taskId}`;
/** How long that mark lives: past it, the task's lease (30 minutes by default) has long ended. */
const UNDELIVERED_SECONDS = 24 * 3600;
/**
 * A claim still marked as being decided this long after it was sent: its call died undecided
 * (a live call has had its answer, or its deadline, by then).
 */
const UNDECIDED_AFTER_MS = TASK_UPDATE_DEADLINE_MS + 1_000;

/**
 * Which of an agent's claims may not have reached it (docs/architecture.md, "When a claim counts
 * as delivered"). A claim is marked `claiming:<ms>` before it is sent and `answered` once its
 * answer is written; the agent's first call on the task, or the task's release, clears the mark.
 * A task still marked is handed over again by the agent's next `get_next_task`.
 */
export class DeliveryMarks {
  constructor(
    private readonly redis: Redis,
    private readonly agentId: string,
  ) {}

  /** Before the claim is sent. */
  async claiming(taskId: string): Promise<void> {
    await this.redis
      .set(
        undeliveredKey(this.agentId, taskId),
        `claiming:${Date.now()}`,
        'EX',
        UNDELIVERED_SECONDS,
      )
      .catch(() => undefined);
  }

  /** The claim is being answered: if that answer is lost, the next call hands it over again. */
  answered(tx: ChainableCommander, taskId: string): ChainableCommander {
    return tx.set(undeliveredKey(this.agentId, taskId), 'answered', 'EX', UNDELIVERED_SECONDS);
  }

  /**
   * The claim's call ends without knowing whether the workflow took it: the next call asks the
   * workflow, and hands the task over if it is the agent's.
   */
  async outcomeUnknown(taskId: string): Promise<void> {
    await this.redis
      .set(undeliveredKey(this.agentId, taskId), 'answered', 'EX', UNDELIVERED_SECONDS)
      .catch(() => undefined);
  }

  /** The agent knows of the task (it called on it), or the task is no longer its own. */
  async clear(taskId: string): Promise<void> {
    await this.redis.del(undeliveredKey(this.agentId, taskId)).catch(() => undefined);
  }

  /**
   * The first of these tasks whose claim may not have reached the agent: answered but not used
   * since, or left undecided by a call that died. A claim another call of this agent is still
   * deciding is that call's to answer or give back: `decidedBy` says when it will have been
   * (when that call has answered, or has died).
   */
  async lostAmong<T extends { id: string }>(tasks: T[]): Promise<{ lost?: T; decidedBy?: number }> {
    if (tasks.length === 0) return {};
    const marks = await this.redis
      .mget(...tasks.map((t) => undeliveredKey(this.agentId, t.id)))
      .catch(() => tasks.map(() => null));
    let decidedBy: number | undefined;
    const now = Date.now();
    const lost = tasks.find((_t, i) => {
      const mark = marks[i];
      if (mark === 'answered') return true;
      const since = Number(mark?.replace('claiming:', ''));
      if (!Number.isFinite(since)) return false;
      if (now - since > UNDECIDED_AFTER_MS) return true;
      decidedBy = Math.min(decidedBy ?? Infinity, since + UNDECIDED_AFTER_MS + 1);
      return false;
    });
    return lost ? { lost } : { decidedBy };
  }
}
