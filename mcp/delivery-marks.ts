import type { ChainableCommander, Redis } from 'ioredis';
import { TASK_UPDATE_DEADLINE_MS } from '../platform/task-updates';

/** Marks a task claimed by an agent whose answer is not yet known to have reached it. */
export const undeliveredKey = (agentId: string, taskId: string) =>
  `mcp:undelivered:${agentId}:${taskId}`;
/** How long that mark lives: past it, the task's lease (30 minutes by default) has long ended. */
const UNDELIVERED_SECONDS = 24 * 3600;
/** How long a `known` mark lives; a task held longer than this is handed over once more. */
const KNOWN_SECONDS = 30 * 24 * 3600;
/** Since when an agent's marks are complete (ms since the epoch). */
const marksSinceKey = (agentId: string) => `mcp:marks-since:${agentId}`;
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

  /**
   * The agent knows of the task (it called on it). Kept as `known` rather than deleted: a task
   * with no mark at all, claimed before the agent's marks were last complete, is one whose mark
   * Redis lost (see `lostAmong`).
   */
  async known(taskId: string): Promise<void> {
    await this.redis
      .set(undeliveredKey(this.agentId, taskId), 'known', 'EX', KNOWN_SECONDS)
      .catch(() => undefined);
  }

  /** The task is no longer the agent's (another won it, it was given back). */
  async forget(taskId: string): Promise<void> {
    await this.redis.del(undeliveredKey(this.agentId, taskId)).catch(() => undefined);
  }

  /**
   * Those of these tasks whose claim may not have reached the agent: answered but not used
   * since, or left undecided by a call that died. A claim another call of this agent is still
   * deciding is that call's to answer or give back: `decidedBy` says when it will have been
   * (when that call has answered, or has died).
   */
  async lostAmong<T extends { id: string; updatedAt: Date }>(
    tasks: T[],
  ): Promise<{ lost: T[]; decidedBy?: number }> {
    if (tasks.length === 0) return { lost: [] };
    // Since when the agent's marks are complete: set at its first look after Redis lost its
    // data (or ever). A task held from before then with no mark may never have reached it.
    // One round trip: the time is set if missing, then read with the marks.
    const sinceKey = marksSinceKey(this.agentId);
    const answers = await this.redis
      .pipeline()
      .set(sinceKey, String(Date.now()), 'NX')
      .get(sinceKey)
      .mget(...tasks.map((t) => undeliveredKey(this.agentId, t.id)))
      .exec()
      .catch(() => null);
    // Redis away: nothing can be told either way; the tasks stay with the agent's own calls.
    if (!answers || answers.some(([err]) => err)) return { lost: [] };
    const since = Number(answers[1]![1]);
    const marks = answers[2]![1] as Array<string | null>;
    let decidedBy: number | undefined;
    const now = Date.now();
    const lost = tasks.filter((task, i) => {
      const mark = marks[i];
      if (mark === 'answered') return true;
      if (mark === 'known') return false;
      // No mark, on a task that changed last before the marks were complete: Redis lost it.
      if (mark === null || mark === undefined) return task.updatedAt.getTime() < since;
      const sent = Number(mark.replace('claiming:', ''));
      if (!Number.isFinite(sent)) return false;
      if (now - sent > UNDECIDED_AFTER_MS) return true;
      decidedBy = Math.min(decidedBy ?? Infinity, sent + UNDECIDED_AFTER_MS + 1);
      return false;
    });
    return lost.length > 0 ? { lost } : { lost, decidedBy };
  }
}
