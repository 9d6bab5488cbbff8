import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { agentActor } from '../contracts/actor';
import type { Actor } from '../contracts/actor';
import type { ALL_PROJECTS, NextTask } from '../contracts/agent';
import type { DeliveryStep } from '../contracts/events';
import {
  askQuestionUpdate,
  createBranchUpdate,
  createPullRequestUpdate,
  releaseTaskUpdate,
  reportProgressUpdate,
} from '../contracts/messages';
import type { BusyWithStep } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import type { Db } from '../db/client';
import { findPullRequest } from '../db/pull-requests';
import { findTask, findTaskHolding, heldTasks } from '../db/tasks';
import type { TaskHolding, TaskRecord } from '../db/tasks';
import { projectGitUrl } from '../platform/git-url';
import { executeLongTaskUpdate, executeTaskUpdate, queryTaskView } from '../platform/task-updates';
import type { McpCancellations, RequestId } from './cancellations';
import { TaskClaims } from './claims';
import { DeliveryMarks } from './delivery-marks';
import { AgentPresence } from './presence';
import { PreviewDeploys } from './previews';
import type { PreviewOutcome } from './previews';
import type { ProgressCoalescer, ProgressOutcome } from './progress';
import { AgentRefusal, endedMessage, isRefused, refusalOf } from './refusals';
import type { TaskWakeups } from './wakeups';
import { CALL_DEADLINE_MS } from './tools/result';

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

/** The states in which a task is still its agent's (`list_my_tasks`, resources). */
export const HELD_STATES = [
  'in_progress',
  'needs_input',
  'ready_to_test',
  'changes_requested',
  'approved',
] as const;

/**
 * What an agent does through MCP, on behalf of one authenticated agent. Every state change goes
 * to the task's workflow (its update validators are the final word: a task can be claimed once);
 * reads come from the read model; waits are woken through Redis (`TaskWakeups`).
 */
export class AgentWork {
  /** Tasks claimed by the calls of this request, by request id, until their answer is out. */
  private readonly claimed = new Map<RequestId, string>();
  private readonly marks: DeliveryMarks;
  private readonly presence: AgentPresence;
  private readonly claims: TaskClaims;
  private readonly previews: PreviewDeploys;

  constructor(
    private readonly deps: AgentWorkDeps,
    readonly agent: AgentIdentity,
    /** Aborts when the request's connection closes before its answer is written. */
    private readonly connection: AbortSignal = new AbortController().signal,
  ) {
    this.marks = new DeliveryMarks(deps.redis, agent.agentId);
    this.presence = new AgentPresence(deps.redis, deps.client, agent.agentId);
    this.claims = new TaskClaims(
      deps,
      agent.agentId,
      agent.projectIds,
      this.actor,
      this.marks,
      this.presence,
    );
    this.previews = new PreviewDeploys(deps, agent.agentId, this.actor);
  }

  /** How this agent's changes name it in events and in the task workflows' histories. */
  private get actor(): Actor {
    return agentActor(this.agent.agentId, this.agent.name);
  }

  /**
   * Gives back the tasks this request claimed: its connection closed before the answers were
   * written, so the agent never heard of them.
   */
  async giveBackUndelivered(): Promise<void> {
    const tasks = [...this.claimed.values()];
    this.claimed.clear();
    for (const taskId of tasks) {
      await this.claims.giveBack(
        taskId,
        'the connection closed before the agent received the task',
      );
    }
  }

  /** The agent cancelled a call: it ends wherever it waits, and takes no task from then on. */
  async cancelled(requestId: RequestId): Promise<void> {
    await this.deps.cancellations.cancel(this.agent.agentId, requestId);
  }

  /** The answer of the calls of this request is written in full: their claims are delivered. */
  delivered(): void {
    this.claimed.clear();
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
      const task = await this.claims.waitForTask(input, signal);
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
        await this.claims.giveBack(task.id, 'the agent cancelled the call that took the task');
        return null;
      }
      // Answered: if this answer is lost after all, the agent's next call hands it over again.
      // The claim started the lease: the agent's first call on the task need not signal again.
      const tx = this.deps.redis.multi();
      this.marks.answered(tx, task.id);
      this.presence.leaseStarted(tx, task.id);
      await tx.exec().catch(() => undefined);
      return task;
    } finally {
      registered.end();
    }
  }

  /** Asks a person about one of the agent's tasks; the task waits in `needs_input`. */
  async ask(input: { taskId: string; question: string }): Promise<{ questionId: string }> {
    await this.holdTask(input.taskId);
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
    const task = await this.holdTask(input.taskId);
    return { taskId: task.id, state: task.state };
  }

  /**
   * Creates the task's branch on the forge (or finds it) and says where to push: the git
   * gateway, never the forge's own URL, which only aiworker's own processes use.
   */
  async createBranch(input: { taskId: string }): Promise<{ branch: string; cloneUrl: string }> {
    const task = await this.holdTask(input.taskId);
    const result = await this.send(
      input.taskId,
      (handle) =>
        executeLongTaskUpdate(handle, createBranchUpdate, {
          agentId: this.agent.agentId,
          actor: this.actor,
        }),
      'create_branch',
    );
    return { branch: result.branch, cloneUrl: projectGitUrl(this.deps.publicUrl, task.projectId) };
  }

  /** Opens the task's pull request into staging, or updates the open one. */
  async createPullRequest(input: {
    taskId: string;
    title?: string;
    description?: string;
  }): Promise<{ prNumber: number; prUrl: string }> {
    await this.holdTask(input.taskId);
    return await this.send(
      input.taskId,
      (handle) =>
        executeLongTaskUpdate(handle, createPullRequestUpdate, {
          agentId: this.agent.agentId,
          actor: this.actor,
          ...(input.title ? { title: input.title } : {}),
          ...(input.description ? { description: input.description } : {}),
        }),
      'create_pr',
    );
  }

  /**
   * Deploys the branch as a preview and hands the task in for review (`ready_to_test`), waiting
   * up to `waitMs` for it; a deploy still running then goes on, and the next call waits for it.
   */
  async triggerPreview(
    input: { taskId: string },
    wait: { waitMs: number; signal: AbortSignal },
  ): Promise<PreviewOutcome> {
    const task = await this.ownTask(input.taskId);
    const signal = AbortSignal.any([wait.signal, this.connection]);
    return await this.previews.deploy(task, wait.waitMs, signal);
  }

  /** Tells the board how the work on the agent's task is going; also a sign of life. */
  async reportProgress(input: {
    taskId: string;
    message: string;
  }): Promise<{ taskId: string; outcome: ProgressOutcome }> {
    await this.holdTask(input.taskId);
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
    await this.holdTask(input.taskId);
    const reason = `released by agent ${this.agent.agentId}${input.reason ? `: ${input.reason}` : ''}`;
    const view = await this.send(input.taskId, (handle) =>
      executeTaskUpdate(handle, releaseTaskUpdate, {
        agentId: this.agent.agentId,
        actor: this.actor,
        reason,
      }),
    );
    await this.presence.setStatus('idle', null);
    return { taskId: view.id, state: view.state };
  }

  /**
   * Sends an update to a task's workflow; a refusal by it becomes an AgentRefusal. For a delivery
   * step (`sameStep`), which the workflow runs one at a time: when this same step is still
   * running on the task (typically the agent's earlier call, answered `unavailable` because the
   * workflow took it only after that call stopped waiting), the call waits for it to end and sends
   * the step again, rather than refuse the agent's retry: each step is idempotent (the branch is
   * found, the open pull request updated). Another step running is still refused.
   */
  private async send<T>(
    taskId: string,
    update: (handle: WorkflowHandle) => Promise<T>,
    sameStep?: 'create_branch' | 'create_pr',
  ): Promise<T> {
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(taskId));
    const until = Date.now() + SAME_STEP_WAIT_MS;
    for (;;) {
      try {
        return await update(handle);
      } catch (err) {
        if (!sameStep || !runningAlready(err, sameStep) || Date.now() >= until) {
          throw await refusalOf(this.deps.db, taskId, handle, err);
        }
      }
      await sleep(SAME_STEP_POLL_MS);
    }
  }

  /** The agent's tasks that have not ended, oldest first, from the read model. */
  async heldTaskIds(): Promise<Array<{ id: string; projectId: string }>> {
    return await heldTasks(this.deps.db, this.agent.agentId, [...HELD_STATES]);
  }

  /**
   * The agent's tasks that have not ended, oldest first, from the read model; the feedback
   * comes from each task's workflow (the read model does not keep it).
   */
  async myTasks() {
    const held = await this.heldTaskIds();
    return await Promise.all(
      held.map(async ({ id }) => {
        const task = (await findTask(this.deps.db, id))!;
        const view = await this.workflowView(id);
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

  /**
   * One of the agent's tasks in full (the `aiworker://tasks/{id}` resource): details, questions
   * and answers, feedback, and its pull request with the diff summary the read model holds.
   * Reading it changes nothing, not even the lease.
   */
  async taskDetails(taskId: string) {
    const task = await findTask(this.deps.db, taskId);
    if (!task || task.assignedAgentId !== this.agent.agentId) {
      // The same answer for a task that does not exist and for another agent's.
      throw new AgentRefusal('unknown_task', `you have no task ${taskId}`);
    }
    const view = await this.workflowView(taskId);
    const pr =
      task.prNumber === null
        ? null
        : await findPullRequest(this.deps.db, task.projectId, task.prNumber);
    return {
      id: task.id,
      projectId: task.projectId,
      title: task.title,
      description: task.description,
      priority: task.priority,
      state: task.state,
      branch: task.branch,
      questions: task.questions.map((q) => ({
        questionId: q.id,
        question: q.question,
        answer: q.answer,
        askedAt: q.askedAt,
        answeredAt: q.answeredAt,
      })),
      feedback: view?.feedback ?? [],
      pullRequest:
        task.prNumber === null
          ? null
          : {
              number: task.prNumber,
              url: task.prUrl,
              diff: pr
                ? {
                    filesChanged: pr.filesChanged,
                    additions: pr.additions,
                    deletions: pr.deletions,
                    files: pr.files,
                  }
                : null,
            },
      previewUrl: task.previewUrl,
      updatedAt: task.updatedAt,
    };
  }

  /** The task's workflow's own view (for what the read model does not keep), or null. */
  private async workflowView(taskId: string): Promise<TaskView | null> {
    return await queryTaskView(this.deps.client, taskId, 2000);
  }

  /** The answer to the agent's question, waiting up to `waitSeconds` for it. */
  async checkResponse(
    input: { taskId: string; questionId?: string; waitSeconds?: number },
    signal?: AbortSignal,
  ): Promise<{ answered: boolean; answer?: string; questionId: string }> {
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (;;) {
      const watch = this.deps.wakeups.watch('check_response', (w) => w.taskId === input.taskId);
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
    // The read model may not have projected a question the workflow already took (a worker was
    // restarting): then the workflow, the source of truth, says whether there is one.
    const question =
      pickQuestion(task.questions, input.questionId) ??
      (await this.workflowView(input.taskId).then((view) =>
        view?.assignedAgentId === this.agent.agentId
          ? pickQuestion(view.questions, input.questionId)
          : undefined,
      ));
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
   * anything is sent to its (closed) workflow. `ownTask` reads the whole row with its questions;
   * `holdTask` only whose it is and its state, for the calls that need no more.
   */
  private async ownTask(taskId: string): Promise<TaskRecord> {
    return await this.confirmHeld(taskId, await findTask(this.deps.db, taskId));
  }

  private async holdTask(taskId: string): Promise<TaskHolding> {
    return await this.confirmHeld(taskId, await findTaskHolding(this.deps.db, taskId));
  }

  private async confirmHeld<T extends TaskHolding>(
    taskId: string,
    task: T | undefined,
  ): Promise<T> {
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
    await Promise.all([
      this.marks.known(taskId),
      this.presence.signOfLife(taskId),
      this.presence.setStatus('working', taskId),
    ]);
    return task;
  }
}

/**
 * How long a delivery step waits for the same step already running on its task: within the
 * call's own deadline, leaving time to send the step again once that one has ended. Past it the
 * agent is told the task is busy with that step, and calls again.
 */
const SAME_STEP_WAIT_MS = CALL_DEADLINE_MS - 3_000;
const SAME_STEP_POLL_MS = 250;

/**
 * The task's workflow refused a delivery step because that same step is running: the refusal's
 * details name the running step (`BusyWithStep`, workflows/task.ts).
 */
function runningAlready(err: unknown, step: DeliveryStep): boolean {
  if (!isRefused(err)) return false;
  const [detail] = ((err as WorkflowUpdateFailedError).cause as ApplicationFailure).details ?? [];
  return (detail as Partial<BusyWithStep> | null | undefined)?.busyWith === step;
}

/** The question named, or the latest one. */
function pickQuestion<Q extends { id: string }>(
  questions: Q[],
  questionId?: string,
): Q | undefined {
  return questionId ? questions.find((q) => q.id === questionId) : questions[questions.length - 1];
}
