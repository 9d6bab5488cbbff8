import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import type { EventPayloads } from '../contracts/events';
import {
  agentHeartbeatSignal,
  askQuestionUpdate,
  claimTaskUpdate,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import type { Db } from '../db/client';
import { claimCandidates, findTask } from '../db/tasks';
import type { TaskRecord } from '../db/tasks';
import type { TaskWakeups } from './wakeups';

/** An expected failure of an agent's call: becomes a tool result with `isError: true`. */
export class AgentRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/** The calling agent, as authenticated. */
export interface AgentIdentity {
  agentId: string;
  name: string;
  /** Empty: every project. */
  projectIds: string[];
}

export interface AgentWorkDeps {
  client: Client;
  db: Db;
  redis: Redis;
  wakeups: TaskWakeups;
  /** Sends an event to a project's boards. */
  emit<T extends keyof EventPayloads>(projectId: string, type: T, payload: EventPayloads[T]): void;
}

/** What `get_next_task` gives an agent: everything it needs to start. */
export interface NextTask {
  id: string;
  title: string;
  description: string;
  projectId: string;
  /** The repository to clone; null until the project has a forge repository. */
  cloneUrl: string | null;
  branch: string;
  feedback: string[];
  answers: Array<{ questionId: string; question: string; answer: string | null }>;
}

/** Deletes a reservation only if this agent still holds it. */
const RELEASE_IF_OURS =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** How long `agent:{id}:status` lives in Redis. */
const STATUS_TTL_SECONDS = 30;
/** Longest an agent's reservation of a candidate keeps other agents off it (it is dropped once the claim is decided). */
const RESERVATION_MS = 5000;

/**
 * What an agent does through MCP, on behalf of one authenticated agent. Every state change goes
 * to the task's workflow (its update validators are the final word: a task can be claimed once);
 * reads come from the read model; waits are woken through Redis (`TaskWakeups`).
 */
export class AgentWork {
  constructor(
    private readonly deps: AgentWorkDeps,
    readonly agent: AgentIdentity,
  ) {}

  /** Takes the best task the agent may work on, waiting up to `waitSeconds` for one to appear. */
  async nextTask(
    input: { projectId?: string; waitSeconds?: number },
    signal?: AbortSignal,
  ): Promise<NextTask | null> {
    if (
      input.projectId &&
      this.agent.projectIds.length > 0 &&
      !this.agent.projectIds.includes(input.projectId)
    ) {
      throw new AgentRefusal(
        `project ${input.projectId} is not one of your projects (${this.agent.projectIds.join(', ')})`,
      );
    }
    const projectIds = input.projectId
      ? [input.projectId]
      : this.agent.projectIds.length
        ? this.agent.projectIds
        : null;
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (;;) {
      const claimed = await this.tryClaim(projectIds);
      if (claimed) {
        await this.setStatus('working', claimed.id, claimed.projectId);
        return claimed;
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) {
        await this.setStatus('idle', null, null);
        return null;
      }
      await this.deps.wakeups.next(
        (w) =>
          (projectIds === null || projectIds.includes(w.projectId)) &&
          w.types.some((t) => t === 'task:created' || t === 'task:status_changed'),
        left,
        signal,
      );
    }
  }

  private async tryClaim(projectIds: string[] | null): Promise<NextTask | null> {
    const candidates = await claimCandidates(this.deps.db, {
      agentId: this.agent.agentId,
      projectIds,
      limit: 20,
    });
    for (const candidate of candidates) {
      if (!(await this.reserve(candidate.id))) continue;
      try {
        const view = await this.deps.client.workflow
          .getHandle(taskWorkflowId(candidate.id))
          .executeUpdate(claimTaskUpdate, { args: [{ agentId: this.agent.agentId }] });
        return presentTask(view);
      } catch (err) {
        if (isRefused(err)) continue; // another agent was faster: the workflow said so
        throw err;
      } finally {
        // The workflow has decided; the reservation has done its job.
        await this.deps.redis
          .eval(RELEASE_IF_OURS, 1, `claim:${candidate.id}`, this.agent.agentId)
          .catch(() => undefined);
      }
    }
    return null;
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
    try {
      return await this.deps.client.workflow
        .getHandle(taskWorkflowId(input.taskId))
        .executeUpdate(askQuestionUpdate, {
          args: [{ agentId: this.agent.agentId, questionId, question: input.question }],
        });
    } catch (err) {
      if (isRefused(err)) throw new AgentRefusal((err as WorkflowUpdateFailedError).cause!.message);
      throw err;
    }
  }

  /** The answer to the agent's question, waiting up to `waitSeconds` for it. */
  async checkResponse(
    input: { taskId: string; questionId?: string; waitSeconds?: number },
    signal?: AbortSignal,
  ): Promise<{ answered: boolean; answer?: string; questionId: string }> {
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (;;) {
      const task = await this.ownTask(input.taskId);
      const question = input.questionId
        ? task.questions.find((q) => q.id === input.questionId)
        : task.questions[task.questions.length - 1];
      if (!question) {
        throw new AgentRefusal(
          input.questionId
            ? `task ${task.id} has no question ${input.questionId}`
            : `task ${task.id} has no questions; ask one with ask_user_question`,
        );
      }
      if (question.answer !== null)
        return { answered: true, answer: question.answer, questionId: question.id };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { answered: false, questionId: question.id };
      await this.deps.wakeups.next((w) => w.taskId === task.id, left, signal);
    }
  }

  /** The task, if it exists and is assigned to this agent; refreshes the agent's lease on it. */
  private async ownTask(taskId: string): Promise<TaskRecord> {
    const task = await findTask(this.deps.db, taskId);
    if (!task) throw new AgentRefusal(`there is no task ${taskId}`);
    if (task.assignedAgentId !== this.agent.agentId) {
      const mine = await this.deps.db.task.findMany({
        where: {
          assignedAgentId: this.agent.agentId,
          state: { in: ['in_progress', 'needs_input', 'changes_requested'] },
        },
        select: { id: true },
      });
      throw new AgentRefusal(
        `task ${taskId} is not assigned to you; your tasks are ${mine.length ? mine.map((t) => t.id).join(', ') : 'none (take one with get_next_task)'}`,
      );
    }
    await this.deps.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .signal(agentHeartbeatSignal, { agentId: this.agent.agentId })
      .catch(() => undefined);
    await this.setStatus('working', taskId, task.projectId);
    return task;
  }

  private async setStatus(
    status: 'working' | 'idle',
    currentTaskId: string | null,
    projectId: string | null,
  ): Promise<void> {
    const payload = { agentId: this.agent.agentId, status, currentTaskId };
    await this.deps.redis
      .set(
        `agent:${this.agent.agentId}:status`,
        JSON.stringify({ ...payload, at: new Date().toISOString() }),
        'EX',
        STATUS_TTL_SECONDS,
      )
      .catch(() => undefined);
    const projects = projectId ? [projectId] : this.agent.projectIds;
    for (const p of projects) this.deps.emit(p, 'agent:status', payload);
  }
}

function isRefused(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TRANSITION_REFUSED
  );
}

function presentTask(view: TaskView): NextTask {
  return {
    id: view.id,
    title: view.title,
    description: view.description,
    projectId: view.projectId,
    cloneUrl: null,
    branch: view.branch ?? `task-${view.id}-feature`,
    feedback: view.feedback,
    answers: view.questions.map((q) => ({
      questionId: q.id,
      question: q.question,
      answer: q.answer,
    })),
  };
}
