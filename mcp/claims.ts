import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Actor } from '../contracts/actor';
import { ALL_PROJECTS } from '../contracts/agent';
import type { NextTask } from '../contracts/agent';
import { claimTaskUpdate, releaseTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { Db } from '../db/client';
import { findProjectCloneUrl } from '../db/projects';
import { claimCandidates, heldTasks } from '../db/tasks';
import { TaskWorkflowStuck } from '../platform/errors';
import { projectGitUrl } from '../platform/git-url';
import {
  executeTaskUpdate,
  isTaskWorkflowStuck,
  queryTaskView,
  TASK_UPDATE_DEADLINE_MS,
} from '../platform/task-updates';
import type { DeliveryMarks } from './delivery-marks';
import type { AgentPresence } from './presence';
import { presentTask } from './present';
import { AgentRefusal, isClosed, isRefused } from './refusals';
import { CALL_DEADLINE_MS } from './tools/result';
import type { TaskWakeups } from './wakeups';

/**
 * A call that passed over a task it could not claim (its workflow stuck, or another agent's by
 * then) too late to claim another within the call's deadline. Nothing was claimed for it.
 */
export class NoTimeLeftToClaim extends Error {
  constructor() {
    super(
      'no task could be assigned to you within this call: the one it tried first turned out to ' +
        'be stuck or taken, too late to claim another in time. Nothing was assigned; call ' +
        'get_next_task again now',
    );
    this.name = 'NoTimeLeftToClaim';
  }
}

/**
 * Longest an agent's reservation of a candidate keeps other agents off it: past the claim's
 * deadline, so that others do not pile claims on a workflow slow to decide one. It is dropped
 * once the claim is decided, and left to expire when its outcome is unknown.
 */
const RESERVATION_MS = TASK_UPDATE_DEADLINE_MS + 1000;
/**
 * How long after it is sent a claim may still be validated: well within the update deadline,
 * so that a claim accepted at the last moment still has time to answer.
 */
const CLAIM_VALID_MS = TASK_UPDATE_DEADLINE_MS - 3000;
/**
 * After a claim's update went unanswered: how long its workflow has to answer a query, then, when
 * it does not, how long Temporal has to say whether it is stuck. With the update's deadline, both
 * fit within a call's `CALL_DEADLINE_MS`.
 */
const QUERY_AFTER_SILENCE_MS = 1500;
const STUCK_AFTER_SILENCE_MS = 1000;
/** How long the workflow of a task the agent may hold without knowing it has to say whose it is. */
const HELD_QUERY_MS = 4000;

/**
 * A claim whose outcome is not known (no answer from Temporal or the task's workflow in time).
 * The agent's next `get_next_task` finds out: it returns this task (`resumed: true`) if the
 * claim landed, and another otherwise.
 */
export class ClaimOutcomeUnknown extends Error {
  constructor(readonly taskId: string) {
    super(
      `a task was being assigned to you but aiworker could not confirm it in time (Temporal or ` +
        `its workers are slow or away). Call get_next_task again shortly: if the task became ` +
        `yours, you get it (resumed: true); if not, you get another`,
    );
    this.name = 'ClaimOutcomeUnknown';
  }
}

/**
 * Reserves the first of the keys no one holds (SET NX with an expiry, in order) and answers its
 * position from 1, or 0 when every one is held: one round trip however many are taken. (The keys
 * of one call must live on one Redis server: aiworker uses one, not a cluster.)
 */
const RESERVE_FIRST_FREE =
  "for i, key in ipairs(KEYS) do if redis.call('set', key, ARGV[1], 'PX', ARGV[2], 'NX') then return i end end return 0";

/**
 * Candidates whose claims this process has under way (reserved, not yet decided). With many
 * agents on one API process they are the first rows of every agent's listing (the oldest of
 * the backlog): each listing reads that many rows more, and passes over them here rather than
 * in Redis. Claims under way in other processes are passed over by their reservations.
 */
const claimingHere = new Set<string>();
/** The most candidates one listing reads. */
const MAX_CANDIDATES = 1000;

/** Deletes a reservation only if this agent still holds it. */
const RELEASE_IF_OURS =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface TaskClaimsDeps {
  client: Client;
  db: Db;
  redis: Redis;
  wakeups: TaskWakeups;
  /** Where the API is reached: agents clone and push through its git gateway. */
  publicUrl: string;
}

/**
 * How one agent gets a task: the one it holds without knowing it first, then the best candidate
 * it can claim, waiting for one to appear. The task's workflow decides every claim (its update
 * validator lets a task be claimed once); Redis reservations only keep agents from colliding.
 */
export class TaskClaims {
  constructor(
    private readonly deps: TaskClaimsDeps,
    private readonly agentId: string,
    private readonly projectIds: string[] | typeof ALL_PROJECTS,
    private readonly actor: Actor,
    private readonly marks: DeliveryMarks,
    private readonly presence: AgentPresence,
  ) {}

  /** A task for the agent, waiting up to `waitSeconds` for one; null if none came in time. */
  async waitForTask(
    input: { projectId?: string; waitSeconds?: number },
    signal: AbortSignal,
  ): Promise<NextTask | null> {
    const scope = this.projectIds;
    if (input.projectId && scope !== ALL_PROJECTS && !scope.includes(input.projectId)) {
      throw new AgentRefusal(
        'project_not_allowed',
        `project ${input.projectId} is not one of your projects (${scope.join(', ')})`,
      );
    }
    const projectIds = input.projectId ? [input.projectId] : scope === ALL_PROJECTS ? null : scope;
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    // The last moment another claim may start in this call: one that meets its update's
    // deadline is answered within the call. (One that does not, after a claim passed over
    // late, would end the call with the claim undecided.)
    const claimStartBy = deadline + CALL_DEADLINE_MS - TASK_UPDATE_DEADLINE_MS;
    for (;;) {
      const watch = this.deps.wakeups.watch(
        'get_next_task',
        (w) =>
          (projectIds === null || projectIds.includes(w.projectId)) &&
          w.types.some((t) => t === 'task:created' || t === 'task:status_changed'),
      );
      try {
        // A call that was cancelled (or whose agent was revoked) must not take a task.
        if (signal.aborted) return null;
        const held = await this.heldTask(projectIds, signal);
        if (held) return held;
        const claimed = await this.tryClaim(projectIds, claimStartBy);
        if (claimed) {
          await this.presence.setStatus('working', claimed.id);
          return claimed;
        }
        const left = deadline - Date.now();
        if (left <= 0 || signal.aborted) {
          await this.presence.setStatus('idle', null);
          return null;
        }
        await watch.wait(left, signal);
      } finally {
        watch.close();
      }
    }
  }

  /**
   * Releases a task claimed by a call whose answer the agent did not get, through the task's
   * release update (recorded in its history). One the agent has moved on since (its workflow
   * refuses: not in progress, or not this agent's) stays as it is.
   */
  async giveBack(taskId: string, reason: string): Promise<void> {
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(taskId));
    try {
      await executeTaskUpdate(handle, releaseTaskUpdate, {
        agentId: this.agentId,
        actor: this.actor,
        reason,
      });
    } catch (err) {
      if (!isRefused(err) && !isClosed(err)) {
        // Not given back (Temporal or the workers slow or away): the task may still be the
        // agent's, so its next get_next_task asks the workflow and hands it over if so.
        await this.marks.outcomeUnknown(taskId);
        throw err;
      }
    }
    await this.marks.forget(taskId);
  }

  /**
   * A task this agent holds but may never have heard of: claimed, and not used by the agent
   * since (no call on it: the answer may have been lost with a process, a connection or a
   * timeout after it was written). It comes back first, so a claim is never left with an agent
   * that does not know it has it.
   */
  private async heldTask(
    projectIds: string[] | null,
    signal: AbortSignal,
  ): Promise<NextTask | null> {
    const held = await heldTasks(this.deps.db, this.agentId, ['in_progress']);
    const mine = held.filter((t) => projectIds === null || projectIds.includes(t.projectId));
    let { lost, decidedBy } = await this.marks.lostAmong(mine);
    // A claim of this agent still undecided: its call may have died with an API process (the
    // agent is retrying it). Wait until it is decided, so the retry gets that task, not another.
    while (lost.length === 0 && decidedBy !== undefined && !signal.aborted) {
      await sleep(Math.min(Math.max(0, decidedBy - Date.now()), 250), undefined, {
        signal,
      }).catch(() => undefined);
      ({ lost, decidedBy } = await this.marks.lostAmong(mine));
    }
    // The workflow has the last word on each: the first one still the agent's is handed over.
    // Each is given time to answer (a busy worker answers queries late); all are asked at once.
    const views = await Promise.all(
      lost.map((task) => queryTaskView(this.deps.client, task.id, HELD_QUERY_MS)),
    );
    let unanswered: string | undefined;
    for (const [i, task] of lost.entries()) {
      const view = views[i];
      // One that does not answer leaves the agent a retry, not another task. (A stuck task's
      // workflow answers nothing until it runs again: the agent gets it then.)
      if (view === null && !task.stuckSince) unanswered ??= task.id;
      if (view?.state !== 'in_progress' || view.assignedAgentId !== this.agentId) continue;
      const cloneUrl = await this.cloneUrlOf(view.projectId);
      await this.presence.setStatus('working', view.id);
      return { ...presentTask(view, cloneUrl), resumed: true };
    }
    // One may still be the agent's, but its workflow did not say: taking another now would
    // leave it with an agent that does not know it has it. The agent calls again.
    if (unanswered) throw new ClaimOutcomeUnknown(unanswered);
    return null;
  }

  /** Where the agent clones a project's repository: the git gateway, or null without one. */
  private async cloneUrlOf(projectId: string): Promise<string | null> {
    const cloneUrl = await findProjectCloneUrl(this.deps.db, projectId);
    return cloneUrl ? projectGitUrl(this.deps.publicUrl, projectId) : null;
  }

  /**
   * Claims the best candidate this agent can get. Candidates other agents hold or win are
   * skipped; when every candidate looked at was taken that way, it looks again (the others'
   * claims have moved on by then) over a wider window, so an agent is not told "nothing to do"
   * while backlog remains. Only when every candidate there is has a claim under way in this
   * process is the answer at once "none free": looking again would find the same ones.
   */
  private async tryClaim(
    projectIds: string[] | null,
    claimStartBy: number,
  ): Promise<NextTask | null> {
    let attempts = 0;
    for (let round = 0, limit = 20; round < 8; round += 1, limit = Math.min(limit * 4, 320)) {
      const asked = Math.min(limit + claimingHere.size, MAX_CANDIDATES);
      const listed = await claimCandidates(this.deps.db, {
        agentId: this.agentId,
        projectIds,
        limit: asked,
      });
      const candidates = listed.filter((c) => !claimingHere.has(c.id));
      // Every candidate there is (the listing was not cut short) is being claimed here: a new
      // listing would find the same ones until those claims are decided, so none is free now.
      if (candidates.length === 0 && listed.length < asked) return null;
      let contended = candidates.length < listed.length;
      for (let next = 0; next < candidates.length;) {
        // One round trip skips every candidate another agent holds and reserves the first free.
        const reserved = await this.reserveFirstFree(candidates.slice(next).map((c) => c.id));
        if (reserved < 0) {
          contended = true;
          break;
        }
        const candidate = candidates[next + reserved]!;
        // The first attempt always goes; a later one only if it can be answered within the
        // call (a claim started past the call's end would be decided after the agent was told).
        if (attempts > 0 && Date.now() > claimStartBy) {
          this.releaseReservation(candidate.id);
          throw new NoTimeLeftToClaim();
        }
        attempts += 1;
        claimingHere.add(candidate.id);
        const claimed = await this.claim(candidate).finally(() =>
          claimingHere.delete(candidate.id),
        );
        if (claimed) return claimed;
        contended = true;
        next += reserved + 1;
      }
      if (!contended) return null;
    }
    // Still contended: the caller waits for the next change (or answers null at its deadline).
    return null;
  }

  /**
   * One claim attempt on a candidate this agent has reserved: null when another agent wins the
   * task (the read model still listed it as free), or when its workflow is stuck (a task that
   * cannot progress must not keep agents from the next one). A workflow that does not answer in
   * time (no worker) fails the call with `TaskWorkflowUnresponsive`.
   */
  private async claim(candidate: { id: string; projectId: string }): Promise<NextTask | null> {
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(candidate.id));
    let decided = true;
    try {
      // Read before claiming: once the workflow has said yes, nothing may fail before the
      // agent is told, or the task would sit with an agent that never heard of it.
      const [cloneUrl] = await Promise.all([
        this.cloneUrlOf(candidate.projectId),
        this.marks.claiming(candidate.id),
      ]);
      // A claim the workflow validates after this moment is refused: by then this call may
      // have given up, and the agent would never hear of its task.
      const expiresAt = new Date(Date.now() + CLAIM_VALID_MS).toISOString();
      try {
        const view = await executeTaskUpdate(handle, claimTaskUpdate, {
          agentId: this.agentId,
          actor: this.actor,
          expiresAt,
        });
        return presentTask(view, cloneUrl);
      } catch (err) {
        if (isRefused(err) || isClosed(err) || err instanceof TaskWorkflowStuck) throw err;
        // No answer (a slow or absent worker, Temporal away, a timeout): the claim may have
        // landed all the same. Ask the workflow.
        const view = await queryTaskView(this.deps.client, candidate.id, QUERY_AFTER_SILENCE_MS);
        if (view?.state === 'in_progress' && view.assignedAgentId === this.agentId) {
          return presentTask(view, cloneUrl);
        }
        // A workflow that answers no query may have become stuck since the call's last look
        // (its workflow task failed late, on a busy worker): then it is passed over like one
        // found stuck during the call.
        if (
          view === null &&
          (await isTaskWorkflowStuck(this.deps.client, candidate.id, STUCK_AFTER_SILENCE_MS))
        ) {
          throw new TaskWorkflowStuck(candidate.id);
        }
        // Undecided: a claim the workflow accepted may still be finishing (its answer waits for
        // the projection), and one not yet accepted is refused once it expires. The agent's next
        // get_next_task asks again and hands the task over if the claim landed.
        await this.marks.outcomeUnknown(candidate.id);
        decided = false;
        throw new ClaimOutcomeUnknown(candidate.id);
      }
    } catch (err) {
      if (isRefused(err)) {
        // The read model still listed the task as free. It may be this agent's own earlier
        // claim, accepted but not yet projected (its call ended without an answer): then it is
        // handed over now, and its mark kept, rather than left with an agent that never heard
        // of it.
        const view = await queryTaskView(this.deps.client, candidate.id);
        if (view?.state === 'in_progress' && view.assignedAgentId === this.agentId) {
          return { ...presentTask(view, await this.cloneUrlOf(view.projectId)), resumed: true };
        }
        // Whose it is could not be asked: the mark stays (it only matters if the read model
        // ever shows the task as this agent's, and then the next call asks again).
        if (view === null) await this.marks.outcomeUnknown(candidate.id);
        else await this.marks.forget(candidate.id);
        return null;
      }
      if (isClosed(err)) {
        await this.marks.forget(candidate.id);
        return null; // cancelled since it was listed; the next listing omits it
      }
      if (err instanceof TaskWorkflowStuck) {
        // Reported by the stuck-task sweep. Its claim may still be taken once the workflow runs
        // again: the mark stays.
        await this.marks.outcomeUnknown(candidate.id);
        return null;
      }
      throw err;
    } finally {
      // The workflow has decided; the reservation has done its job, and is dropped without
      // holding up the answer. (Undecided, it keeps the others off until it expires.)
      if (decided) this.releaseReservation(candidate.id);
    }
  }

  /** Drops this agent's reservation of a candidate, without holding up the answer. */
  private releaseReservation(taskId: string): void {
    this.deps.redis
      .eval(RELEASE_IF_OURS, 1, `claim:${taskId}`, this.agentId)
      .catch(() => undefined);
  }

  /**
   * Keeps other agents off a candidate for a moment: reserves the first of these tasks no other
   * agent holds, and answers its index (-1 when every one is held). Without Redis every agent
   * just tries the first.
   */
  private async reserveFirstFree(taskIds: string[]): Promise<number> {
    try {
      const index = (await this.deps.redis.eval(
        RESERVE_FIRST_FREE,
        taskIds.length,
        ...taskIds.map((id) => `claim:${id}`),
        this.agentId,
        RESERVATION_MS,
      )) as number;
      return index - 1;
    } catch {
      return 0;
    }
  }
}
