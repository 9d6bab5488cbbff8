import { randomUUID } from 'node:crypto';
import { agentActor } from '../contracts/actor';
import type { Actor } from '../contracts/actor';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import {
  agentHeartbeatSignal,
  askQuestionUpdate,
  claimTaskUpdate,
  createBranchUpdate,
  createPullRequestUpdate,
  DELIVERY_FAILED,
  releaseTaskUpdate,
  reportProgressUpdate,
  taskViewQuery,
  triggerPreviewUpdate,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import type { TaskState } from '../contracts/task-state';
import { ALL_PROJECTS } from '../contracts/agent';
import type { NextTask } from '../contracts/agent';
import type { Db } from '../db/client';
import { findProject } from '../db/projects';
import { claimCandidates, findTask, heldTasks } from '../db/tasks';
import type { TaskRecord } from '../db/tasks';
import type { ProgressCoalescer, ProgressOutcome } from './progress';
import type { TaskWakeups } from './wakeups';
import type { McpCancellations, RequestId } from './cancellations';
import { projectGitUrl } from './git-url';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from '../platform/errors';
import {
  executeLongTaskUpdate,
  executeTaskUpdate,
  TASK_UPDATE_DEADLINE_MS,
} from '../platform/task-updates';

/**
 * Why an agent's call was refused, as a stable code in the result's `structuredContent.error`
 * (README, "Connecting an agent"): clients branch on it, the message is for the model.
 */
export type AgentRefusalCode =
  | 'project_not_allowed'
  | 'unknown_task'
  | 'not_your_task'
  | 'task_ended'
  | 'transition_refused'
  | 'no_question';

/** An expected failure of an agent's call: becomes a tool result with `isError: true`. */
export class AgentRefusal extends Error {
  constructor(
    readonly code: AgentRefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/** The calling agent, as authenticated. */
export interface AgentIdentity {
  agentId: string;
  name: string;
  /** `"*"`: every project. */
  projectIds: string[] | typeof ALL_PROJECTS;
}

export interface AgentWorkDeps {
  client: Client;
  db: Db;
  redis: Redis;
  wakeups: TaskWakeups;
  /** Coalesces progress reports so a chatty agent cannot grow a history without bound. */
  progress: ProgressCoalescer;
  /** Where the API is reached: agents clone and push through its git gateway (`projectGitUrl`). */
  publicUrl: string;
  cancellations: McpCancellations;
}

/** Shortest gap between two signs of life an agent's calls send to its task's workflow. */
const HEARTBEAT_SIGNAL_EVERY_MS = 1_000;

/** The states in which a task is still its agent's (`list_my_tasks`). */
export const HELD_STATES = [
  'in_progress',
  'needs_input',
  'ready_to_test',
  'changes_requested',
  'approved',
] as const;

/** Keeps an agent's signs of life on a task to one signal to its workflow per interval. */
const heartbeatKey = (taskId: string, agentId: string) => `task:${taskId}:heartbeat:${agentId}`;

/** Marks a task claimed by an agent whose answer is not yet known to have reached it. */
const undeliveredKey = (agentId: string, taskId: string) => `mcp:undelivered:${agentId}:${taskId}`;
/** How long that mark lives: past it, the task's lease (30 minutes by default) has long ended. */
const UNDELIVERED_SECONDS = 24 * 3600;

/** Deletes a reservation only if this agent still holds it. */
const RELEASE_IF_OURS =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** How long `agent:{id}:status` lives in Redis. */
const STATUS_TTL_SECONDS = 30;
/** Longest an agent's reservation of a candidate keeps other agents off it (it is dropped once the claim is decided). */
const RESERVATION_MS = 5000;
/**
 * How long after it is sent a claim may still be validated: well within the update deadline,
 * so that a claim accepted at the last moment still has time to answer.
 */
const CLAIM_VALID_MS = TASK_UPDATE_DEADLINE_MS - 3000;

/**
 * What an agent does through MCP, on behalf of one authenticated agent. Every state change goes
 * to the task's workflow (its update validators are the final word: a task can be claimed once);
 * reads come from the read model; waits are woken through Redis (`TaskWakeups`).
 */
export class AgentWork {
  /** Tasks claimed by the calls of this request, by request id, until their answer is out. */
  private readonly claimed = new Map<RequestId, string>();

  constructor(
    private readonly deps: AgentWorkDeps,
    readonly agent: AgentIdentity,
    /** Aborts when the request's connection closes before its answer is written. */
    private readonly connection: AbortSignal = new AbortController().signal,
  ) {}

  /**
   * Gives back the tasks this request claimed: its connection closed before the answers were
   * written, so the agent never heard of them.
   */
  async giveBackUndelivered(): Promise<void> {
    const tasks = [...this.claimed.values()];
    this.claimed.clear();
    for (const taskId of tasks) {
      await this.giveBack(taskId, 'the connection closed before the agent received the task');
    }
  }

  /** The agent cancelled a call: it ends wherever it waits, and takes no task from then on. */
  async cancelled(requestId: RequestId): Promise<void> {
    await this.deps.cancellations.cancel(this.agent.agentId, requestId);
  }

  /**
   * Releases a task claimed by a call whose answer the agent did not get, through the task's
   * release update (recorded in its history). One the agent has moved on since (its workflow
   * refuses: not in progress, or not this agent's) stays as it is.
   */
  private async giveBack(taskId: string, reason: string): Promise<void> {
    await this.deps.redis.del(undeliveredKey(this.agent.agentId, taskId)).catch(() => undefined);
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(taskId));
    try {
      await executeTaskUpdate(handle, releaseTaskUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
        reason,
      });
    } catch (err) {
      if (isRefused(err) || isClosed(err)) return;
      throw err;
    }
  }

  /** How this agent's changes name it in events and in the task workflows' histories. */
  private get actor(): Actor {
    return agentActor(this.agent.agentId, this.agent.name);
  }

  /** Takes the best task the agent may work on, waiting up to `waitSeconds` for one to appear. */
  async nextTask(
    input: { projectId?: string; waitSeconds?: number },
    call: { signal: AbortSignal; requestId: RequestId },
  ): Promise<NextTask | null> {
    // Cancelled by the client here or at another API process, or the connection closed.
    const registered = this.deps.cancellations.begin(this.agent.agentId, call.requestId);
    try {
      const signal = AbortSignal.any([call.signal, registered.signal, this.connection]);
      const task = await this.waitForTask(input, signal);
      // A task the agent already held stays its own, whatever becomes of this call.
      if (!task || task.resumed) return task;
      this.claimed.set(call.requestId, task.id);
      const cancelled = await this.deps.cancellations.claimLanded(
        this.agent.agentId,
        call.requestId,
      );
      if (cancelled || signal.aborted) {
        // The claim landed after the caller stopped waiting: the agent will not see it.
        this.claimed.delete(call.requestId);
        await this.giveBack(task.id, 'the agent cancelled the call that took the task');
        return null;
      }
      // Answered: if this answer is lost after all, the agent's next call hands it over again.
      // The claim started the lease: the agent's first call on the task need not signal again.
      await this.deps.redis
        .multi()
        .set(undeliveredKey(this.agent.agentId, task.id), 'answered', 'EX', UNDELIVERED_SECONDS)
        .set(heartbeatKey(task.id, this.agent.agentId), '1', 'PX', HEARTBEAT_SIGNAL_EVERY_MS)
        .exec()
        .catch(() => undefined);
      return task;
    } finally {
      registered.end();
    }
  }

  /** The answer of the calls of this request is written in full: their claims are delivered. */
  delivered(): void {
    this.claimed.clear();
  }

  private async waitForTask(
    input: { projectId?: string; waitSeconds?: number },
    signal: AbortSignal,
  ): Promise<NextTask | null> {
    const scope = this.agent.projectIds;
    if (input.projectId && scope !== ALL_PROJECTS && !scope.includes(input.projectId)) {
      throw new AgentRefusal(
        'project_not_allowed',
        `project ${input.projectId} is not one of your projects (${scope.join(', ')})`,
      );
    }
    const projectIds = input.projectId ? [input.projectId] : scope === ALL_PROJECTS ? null : scope;
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (;;) {
      const watch = this.deps.wakeups.watch(
        (w) =>
          (projectIds === null || projectIds.includes(w.projectId)) &&
          w.types.some((t) => t === 'task:created' || t === 'task:status_changed'),
      );
      try {
        // A call that was cancelled (or whose agent was revoked) must not take a task.
        if (signal.aborted) return null;
        const held = await this.heldTask(projectIds);
        if (held) return held;
        const claimed = await this.tryClaim(projectIds);
        if (claimed) {
          await this.setStatus('working', claimed.id);
          return claimed;
        }
        const left = deadline - Date.now();
        if (left <= 0 || signal.aborted) {
          await this.setStatus('idle', null);
          return null;
        }
        await watch.wait(left, signal);
      } finally {
        watch.close();
      }
    }
  }

  /**
   * A task this agent holds but may never have heard of: claimed, and not used by the agent
   * since (no call on it: the answer may have been lost with a process, a connection or a
   * timeout after it was written). It comes back first, so a claim is never left with an agent
   * that does not know it has it.
   */
  private async heldTask(projectIds: string[] | null): Promise<NextTask | null> {
    const held = await heldTasks(this.deps.db, this.agent.agentId, ['in_progress']);
    const mine = held.filter((t) => projectIds === null || projectIds.includes(t.projectId));
    if (mine.length === 0) return null;
    const marks = await this.deps.redis
      .mget(...mine.map((t) => undeliveredKey(this.agent.agentId, t.id)))
      .catch(() => mine.map(() => null));
    // A claim still being decided by another call of this agent is that call's to answer or
    // give back; one whose call died without deciding is handed over once its time is up.
    const lost = mine.find((_t, i) => {
      const mark = marks[i];
      if (mark === 'answered') return true;
      const since = Number(mark?.replace('claiming:', ''));
      return Number.isFinite(since) && Date.now() - since > TASK_UPDATE_DEADLINE_MS + 5_000;
    });
    if (!lost) return null;
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(lost.id));
    const view = await handle.query(taskViewQuery).catch(() => null);
    if (view?.state !== 'in_progress' || view.assignedAgentId !== this.agent.agentId) return null;
    const project = await findProject(this.deps.db, view.projectId);
    const cloneUrl = project?.cloneUrl ? projectGitUrl(this.deps.publicUrl, project.id) : null;
    await this.setStatus('working', view.id);
    return { ...presentTask(view, cloneUrl), resumed: true };
  }

  /**
   * Claims the best candidate this agent can get. Candidates other agents hold or win are
   * skipped; when every candidate looked at was taken that way, it looks again (the others'
   * claims have moved on by then) over a wider window, so an agent is not told "nothing to do"
   * while backlog remains.
   */
  private async tryClaim(projectIds: string[] | null): Promise<NextTask | null> {
    for (let round = 0, limit = 20; round < 8; round += 1, limit = Math.min(limit * 4, 320)) {
      const candidates = await claimCandidates(this.deps.db, {
        agentId: this.agent.agentId,
        projectIds,
        limit,
      });
      let contended = false;
      for (const candidate of candidates) {
        const claimed = await this.claim(candidate);
        if (claimed) return claimed;
        contended = true;
      }
      if (!contended) return null;
    }
    // Still contended: the caller waits for the next change (or answers null at its deadline).
    return null;
  }

  /**
   * One claim attempt: null when another agent holds or wins the task, or when its workflow is
   * stuck (a task that cannot progress must not keep agents from the next one). A workflow that
   * does not answer in time (no worker) fails the call with `TaskWorkflowUnresponsive`.
   */
  private async claim(candidate: { id: string; projectId: string }): Promise<NextTask | null> {
    if (!(await this.reserve(candidate.id))) return null;
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(candidate.id));
    try {
      // Read before claiming: once the workflow has said yes, nothing may fail before the
      // agent is told, or the task would sit with an agent that never heard of it.
      const project = await findProject(this.deps.db, candidate.projectId);
      const cloneUrl = project?.cloneUrl ? projectGitUrl(this.deps.publicUrl, project.id) : null;
      // A claim the workflow validates after this moment is refused: by then this call may
      // have given up, and the agent would never hear of its task.
      const expiresAt = new Date(Date.now() + CLAIM_VALID_MS).toISOString();
      // Marked before the claim is sent, cleared by the agent's first call on the task (or its
      // release): a claim whose answer never reached the agent is found by its next call.
      await this.deps.redis
        .set(
          undeliveredKey(this.agent.agentId, candidate.id),
          `claiming:${Date.now()}`,
          'EX',
          UNDELIVERED_SECONDS,
        )
        .catch(() => undefined);
      try {
        const view = await executeTaskUpdate(handle, claimTaskUpdate, {
          agentId: this.agent.agentId,
          actor: this.actor,
          expiresAt,
        });
        return presentTask(view, cloneUrl);
      } catch (err) {
        if (!(err instanceof TaskWorkflowUnresponsive)) throw err;
        // Accepted in time but slow to finish: the claim may have landed all the same. If not,
        // no worker answers, and the next candidates would not answer either: say so.
        const view = await this.deps.client.connection
          .withDeadline(Date.now() + 2000, () => handle.query(taskViewQuery))
          .catch(() => null);
        if (view?.state === 'in_progress' && view.assignedAgentId === this.agent.agentId) {
          return presentTask(view, cloneUrl);
        }
        throw err;
      }
    } catch (err) {
      const notOurs = isRefused(err) || isClosed(err) || err instanceof TaskWorkflowStuck;
      if (notOurs) {
        await this.deps.redis
          .del(undeliveredKey(this.agent.agentId, candidate.id))
          .catch(() => undefined);
      }
      if (isRefused(err)) return null; // another agent was faster: the workflow said so
      if (isClosed(err)) return null; // cancelled since it was listed; the next listing omits it
      if (err instanceof TaskWorkflowStuck) return null; // reported by the stuck-task sweep
      throw err;
    } finally {
      // The workflow has decided; the reservation has done its job.
      await this.deps.redis
        .eval(RELEASE_IF_OURS, 1, `claim:${candidate.id}`, this.agent.agentId)
        .catch(() => undefined);
    }
  }

  /** Keeps other agents off a candidate for a moment; without Redis every agent just tries. */
  private async reserve(taskId: string): Promise<boolean> {
    try {
      return (
        (await this.deps.redis.set(
          `claim:${taskId}`,
          this.agent.agentId,
          'PX',
          RESERVATION_MS,
          'NX',
        )) === 'OK'
      );
    } catch {
      return true;
    }
  }

  /** Asks a person about one of the agent's tasks; the task waits in `needs_input`. */
  async ask(input: { taskId: string; question: string }): Promise<{ questionId: string }> {
    await this.ownTask(input.taskId);
    const questionId = randomUUID();
    return await this.send(input.taskId, (handle) =>
      executeTaskUpdate(handle, askQuestionUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
        questionId,
        question: input.question,
      }),
    );
  }

  /** A sign of life: keeps the agent's lease on its task while it works without other calls. */
  async heartbeat(input: { taskId: string }): Promise<{ taskId: string; state: string }> {
    const task = await this.ownTask(input.taskId);
    return { taskId: task.id, state: task.state };
  }

  /**
   * Creates the task's branch on the forge (or finds it) and says where to push: the git
   * gateway, never the forge's own URL, which only aiworker's own processes use.
   */
  async createBranch(input: { taskId: string }): Promise<{ branch: string; cloneUrl: string }> {
    const task = await this.ownTask(input.taskId);
    const result = await this.send(input.taskId, (handle) =>
      executeLongTaskUpdate(handle, createBranchUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
      }),
    );
    return { branch: result.branch, cloneUrl: projectGitUrl(this.deps.publicUrl, task.projectId) };
  }

  /** Opens the task's pull request into staging, or updates the open one. */
  async createPullRequest(input: {
    taskId: string;
    title?: string;
    description?: string;
  }): Promise<{ prNumber: number; prUrl: string }> {
    await this.ownTask(input.taskId);
    return await this.send(input.taskId, (handle) =>
      executeLongTaskUpdate(handle, createPullRequestUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
        ...(input.title ? { title: input.title } : {}),
        ...(input.description ? { description: input.description } : {}),
      }),
    );
  }

  /** Deploys the branch as a preview and hands the task in for review (`ready_to_test`). */
  async triggerPreview(input: { taskId: string }): Promise<{ previewUrl: string }> {
    await this.ownTask(input.taskId);
    const { previewUrl } = await this.send(input.taskId, (handle) =>
      executeLongTaskUpdate(handle, triggerPreviewUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
      }),
    );
    return { previewUrl };
  }

  /** Tells the board how the work on the agent's task is going; also a sign of life. */
  async reportProgress(input: {
    taskId: string;
    message: string;
  }): Promise<{ taskId: string; outcome: ProgressOutcome }> {
    await this.ownTask(input.taskId);
    const outcome = await this.deps.progress.report(
      input.taskId,
      input.message,
      async (message) => {
        await this.send(input.taskId, (handle) =>
          executeTaskUpdate(handle, reportProgressUpdate, {
            agentId: this.agent.agentId,
            actor: this.actor,
            message,
          }),
        );
      },
    );
    return { taskId: input.taskId, outcome };
  }

  /** Gives a task back to the backlog, for another agent. */
  async release(input: {
    taskId: string;
    reason?: string;
  }): Promise<{ taskId: string; state: string }> {
    await this.ownTask(input.taskId);
    const reason = `released by agent ${this.agent.agentId}${input.reason ? `: ${input.reason}` : ''}`;
    const view = await this.send(input.taskId, (handle) =>
      executeTaskUpdate(handle, releaseTaskUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
        reason,
      }),
    );
    await this.setStatus('idle', null);
    return { taskId: view.id, state: view.state };
  }

  /**
   * Sends an update to a task's workflow; a refusal by it becomes an AgentRefusal. The task may
   * end between `ownTask` and the update: the workflow then refuses, or has closed, and the agent
   * is told the task ended, as `ownTask` would have told it.
   */
  private async send<T>(
    taskId: string,
    update: (handle: WorkflowHandle) => Promise<T>,
  ): Promise<T> {
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(taskId));
    try {
      return await update(handle);
    } catch (err) {
      if (isRefused(err, TRANSITION_REFUSED) || isRefused(err, DELIVERY_FAILED)) {
        throw (
          (await this.endedRefusal(taskId)) ??
          new AgentRefusal('transition_refused', (err as WorkflowUpdateFailedError).cause!.message)
        );
      }
      if (isClosed(err)) {
        throw (
          (await this.endedRefusal(taskId, handle)) ??
          new AgentRefusal(
            'task_ended',
            `task ${taskId} has ended and can no longer change; take another with get_next_task`,
          )
        );
      }
      throw err;
    }
  }

  /**
   * The refusal for a task that was cancelled or merged, if it was. A closed workflow has
   * projected its last change before closing, but a read model restored from a backup may lag:
   * then the workflow's own last view decides.
   */
  private async endedRefusal(
    taskId: string,
    closed?: WorkflowHandle,
  ): Promise<AgentRefusal | null> {
    let state = (await findTask(this.deps.db, taskId).catch(() => null))?.state;
    if (closed && !endedMessage(taskId, state)) {
      state = await closed.result().then(
        (view: TaskView) => view.state,
        () => state,
      );
    }
    const message = endedMessage(taskId, state);
    return message ? new AgentRefusal('task_ended', message) : null;
  }

  /**
   * The agent's tasks that have not ended, oldest first, from the read model; the feedback
   * comes from each task's workflow (the read model does not keep it).
   */
  async myTasks() {
    const held = await heldTasks(this.deps.db, this.agent.agentId, [...HELD_STATES]);
    return await Promise.all(
      held.map(async ({ id }) => {
        const task = (await findTask(this.deps.db, id))!;
        const view = await this.deps.client.connection
          .withDeadline(Date.now() + 2000, () =>
            this.deps.client.workflow.getHandle(taskWorkflowId(id)).query(taskViewQuery),
          )
          .catch(() => null);
        const open = task.questions.find((q) => q.answer === null);
        return {
          id: task.id,
          title: task.title,
          projectId: task.projectId,
          state: task.state,
          openQuestion: open ? { questionId: open.id, question: open.question } : null,
          feedback: view?.feedback ?? [],
          branch: task.branch,
          prUrl: task.prUrl,
          previewUrl: task.previewUrl,
        };
      }),
    );
  }

  /** The answer to the agent's question, waiting up to `waitSeconds` for it. */
  async checkResponse(
    input: { taskId: string; questionId?: string; waitSeconds?: number },
    signal?: AbortSignal,
  ): Promise<{ answered: boolean; answer?: string; questionId: string }> {
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (;;) {
      const watch = this.deps.wakeups.watch((w) => w.taskId === input.taskId);
      try {
        const answer = await this.answerOf(input);
        if (answer.answered) return answer;
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return answer;
        await watch.wait(left, signal);
      } finally {
        watch.close();
      }
    }
  }

  /** The agent's question on its task and its answer, as the read model has them now. */
  private async answerOf(input: {
    taskId: string;
    questionId?: string;
  }): Promise<{ answered: boolean; answer?: string; questionId: string }> {
    const task = await this.ownTask(input.taskId);
    const question = input.questionId
      ? task.questions.find((q) => q.id === input.questionId)
      : task.questions[task.questions.length - 1];
    if (!question) {
      const latest = task.questions[task.questions.length - 1];
      throw new AgentRefusal(
        'no_question',
        !latest
          ? `task ${task.id} has no questions; ask one with ask_user_question`
          : `task ${task.id} has no question ${input.questionId}; your latest question on it is ${latest.id} (leave out questionId to get it)`,
      );
    }
    if (question.answer !== null)
      return { answered: true, answer: question.answer, questionId: question.id };
    return { answered: false, questionId: question.id };
  }

  /**
   * The task, if it exists, is assigned to this agent and has not ended; refreshes the agent's
   * lease on it. A cancelled or merged task keeps its agent, so the end is checked here, before
   * anything is sent to its (closed) workflow.
   */
  private async ownTask(taskId: string): Promise<TaskRecord> {
    const task = await findTask(this.deps.db, taskId);
    if (!task) throw new AgentRefusal('unknown_task', `there is no task ${taskId}`);
    if (task.assignedAgentId !== this.agent.agentId) {
      const mine = await heldTasks(this.deps.db, this.agent.agentId, [
        'in_progress',
        'needs_input',
        'changes_requested',
      ]);
      throw new AgentRefusal(
        'not_your_task',
        `task ${taskId} is not assigned to you; your tasks are ${mine.length ? mine.map((t) => t.id).join(', ') : 'none (take one with get_next_task)'}`,
      );
    }
    const ended = endedMessage(taskId, task.state);
    if (ended) throw new AgentRefusal('task_ended', ended);
    // The agent knows it has the task: get_next_task no longer needs to hand it over again.
    await this.deps.redis.del(undeliveredKey(this.agent.agentId, taskId)).catch(() => undefined);
    // A sign of life reaches the workflow at most once a second per agent and task, not at
    // every call: leases are at least a second long, and each signal grows the task's history.
    const due = await this.deps.redis
      .set(heartbeatKey(taskId, this.agent.agentId), '1', 'PX', HEARTBEAT_SIGNAL_EVERY_MS, 'NX')
      .catch(() => 'OK');
    if (due === 'OK') {
      await this.deps.client.workflow
        .getHandle(taskWorkflowId(taskId))
        .signal(agentHeartbeatSignal, { agentId: this.agent.agentId })
        .catch(() => undefined);
    }
    await this.setStatus('working', taskId);
    return task;
  }

  /**
   * Keeps `agent:<id>:status` in Redis (30 s) for `GET /api/agents`: online while it calls,
   * with what it works on. The boards' `agent:status` events come from the task workflows,
   * which log them when an agent takes a task or stops working on it.
   */
  private async setStatus(status: 'working' | 'idle', currentTaskId: string | null): Promise<void> {
    const payload = { agentId: this.agent.agentId, status, currentTaskId };
    await this.deps.redis
      .set(
        `agent:${this.agent.agentId}:status`,
        JSON.stringify({ ...payload, at: new Date().toISOString() }),
        'EX',
        STATUS_TTL_SECONDS,
      )
      .catch(() => undefined);
  }
}

function isRefused(err: unknown, type = TRANSITION_REFUSED): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === type
  );
}

/** An update that found the task's workflow closed (cancelled or merged since it was read). */
function isClosed(err: unknown): boolean {
  return (
    err instanceof WorkflowNotFoundError ||
    (err instanceof Error && /workflow execution already completed/i.test(err.message))
  );
}

/** What to tell an agent that calls on a task which has ended; null while the task is open. */
function endedMessage(taskId: string, state: TaskState | undefined): string | null {
  if (state === 'cancelled')
    return `task ${taskId} was cancelled: stop working on it and take another with get_next_task`;
  if (state === 'staging')
    return `task ${taskId} is merged to staging; nothing more to do on it (take another with get_next_task)`;
  return null;
}

function presentTask(view: TaskView, cloneUrl: string | null): NextTask {
  return {
    resumed: false,
    state: view.state,
    id: view.id,
    title: view.title,
    description: view.description,
    projectId: view.projectId,
    cloneUrl,
    branch: view.branch ?? `task-${view.id}-feature`,
    feedback: view.feedback,
    answers: view.questions.map((q) => ({
      questionId: q.id,
      question: q.question,
      answer: q.answer,
    })),
  };
}
