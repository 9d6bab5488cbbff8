import type { DeliveryStep, EventPayloads, EventType, RecordedEvent } from '../contracts/events';
import { newTaskView, TASK_SNAPSHOT_VERSION } from '../contracts/task';
import type { TaskSnapshot, TaskTransition, TaskView, TaskWorkflowInput } from '../contracts/task';
import type { TaskState } from '../contracts/task-state';
import { readTaskSnapshot } from './task-snapshot';

/** Thrown by a TaskMachine check when the task's state (or owner) does not allow a request. */
export class TransitionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransitionRefused';
  }
}

/** States from which a task can no longer change. */
const FINAL: ReadonlySet<TaskState> = new Set(['staging', 'cancelled']);

/** What one change produced: the events to record and publish, in order. */
export type Change = RecordedEvent[];

/**
 * A task's state and every rule about how it may change (docs/architecture.md, "The task workflow").
 * Pure and deterministic: the task workflow owns one, checks requests with `check*` methods in
 * its update validators and applies them with the matching method in its handlers.
 */
export class TaskMachine {
  private constructor(
    private readonly view: TaskView,
    private readonly history: TaskTransition[],
    private eventSeq: number,
  ) {}

  static create(input: TaskWorkflowInput, now: Date): { machine: TaskMachine; change: Change } {
    if (input.snapshot) {
      const s = readTaskSnapshot(input.snapshot);
      return { machine: new TaskMachine(s.view, s.history, s.eventSeq), change: [] };
    }
    const view = newTaskView(input, now);
    const machine = new TaskMachine(view, [], 0);
    machine.history.push({
      seq: 1,
      from: null,
      to: 'backlog',
      reason: 'created',
      at: view.createdAt,
    });
    const change = [
      machine.event(
        'task:created',
        { taskId: view.id, title: view.title, priority: view.priority },
        now,
      ),
    ];
    return { machine, change };
  }

  get state(): TaskState {
    return this.view.state;
  }

  get isFinal(): boolean {
    return FINAL.has(this.view.state);
  }

  /** The open question, if the task is waiting for an answer. */
  get openQuestion() {
    return this.view.questions.find((q) => q.answer === null);
  }

  /** The machine's part of the snapshot a workflow continues as new with. */
  snapshot(): TaskSnapshot {
    return {
      version: TASK_SNAPSHOT_VERSION,
      view: this.current(),
      history: this.history.map((h) => ({ ...h })),
      eventSeq: this.eventSeq,
    };
  }

  current(): TaskView {
    return {
      ...this.view,
      questions: this.view.questions.map((q) => ({ ...q })),
      feedback: [...this.view.feedback],
    };
  }

  transitions(): TaskTransition[] {
    return this.history.map((h) => ({ ...h }));
  }

  // --- checks: throw TransitionRefused, change nothing -------------------------------------

  checkClaim(agentId: string): void {
    this.requireState(['backlog', 'changes_requested'], 'be taken');
    const owner = this.view.assignedAgentId;
    if (this.view.state === 'changes_requested' && owner && owner !== agentId) {
      throw new TransitionRefused(`task ${this.view.id} is waiting for changes by agent ${owner}`);
    }
  }

  checkRelease(agentId: string): void {
    this.requireState(['in_progress'], 'be released');
    this.requireOwner(agentId);
  }

  checkAsk(agentId: string): void {
    const open = this.openQuestion;
    if (open) {
      throw new TransitionRefused(
        `task ${this.view.id} is already waiting for an answer to question ${open.id}`,
      );
    }
    this.requireState(['in_progress'], 'get a question');
    this.requireOwner(agentId);
  }

  checkAnswer(questionId: string | undefined): void {
    const open = this.openQuestion;
    if (!open) {
      throw new TransitionRefused(
        `task ${this.view.id} has no question waiting for an answer (it is ${this.view.state})`,
      );
    }
    if (questionId !== undefined && questionId !== open.id) {
      const known = this.view.questions.some((q) => q.id === questionId);
      throw new TransitionRefused(
        known
          ? `question ${questionId} was already answered; the open question is ${open.id}`
          : `task ${this.view.id} has no question ${questionId}; the open question is ${open.id}`,
      );
    }
  }

  checkProgress(agentId: string): void {
    this.requireState(['in_progress', 'needs_input'], 'get progress reports');
    this.requireOwner(agentId);
  }

  checkSubmit(agentId: string): void {
    this.requireState(['in_progress'], 'be submitted for review');
    this.requireOwner(agentId);
  }

  /** A delivery step (branch, pull request, preview) by the assigned agent while it works. */
  checkDeliver(agentId: string, step: 'create_pr' | 'trigger_preview' | 'create_branch'): void {
    this.requireState(['in_progress'], `run ${step}`);
    this.requireOwner(agentId);
    if (step !== 'create_branch' && !this.view.branch) {
      throw new TransitionRefused(
        `task ${this.view.id} has no branch yet: call create_branch, push your commits, then ${step}`,
      );
    }
  }

  checkApprove(): void {
    this.requireState(['ready_to_test'], 'be approved');
  }

  checkRequestChanges(): void {
    this.requireState(['ready_to_test', 'approved'], 'get change requests');
    this.requireNotMerging('get change requests');
  }

  checkCancel(): void {
    if (this.isFinal)
      throw new TransitionRefused(
        `task ${this.view.id} is ${this.view.state} and cannot be cancelled`,
      );
    this.requireNotMerging('be cancelled');
  }

  /** A merge batch takes the approved task (a retry by the same batch is accepted again). */
  checkBeginMerge(mergeId: string): void {
    this.requireState(['approved'], 'be merged to staging');
    const current = this.view.mergeId;
    if (current && current !== mergeId) {
      throw new TransitionRefused(
        `task ${this.view.id} is already being merged by merge ${current}`,
      );
    }
    if (!this.view.approvedCommit) {
      throw new TransitionRefused(
        `task ${this.view.id} has no approved commit (it was approved without a preview)`,
      );
    }
  }

  /** What a merge batch reports back about one of its tasks (merged, conflict, rolled back). */
  checkMergeOutcome(mergeId: string): void {
    this.requireState(['approved'], 'get a merge result');
    if (this.view.mergeId !== mergeId) {
      throw new TransitionRefused(`task ${this.view.id} is not being merged by merge ${mergeId}`);
    }
  }

  // --- changes: call only after the matching check ------------------------------------------

  claim(agentId: string, now: Date): Change {
    this.view.assignedAgentId = agentId;
    return [
      ...this.moveTo('in_progress', `taken by agent ${agentId}`, now),
      this.event('agent:status', { agentId, status: 'working', currentTaskId: this.view.id }, now),
    ];
  }

  release(reason: string, now: Date): Change {
    const working = this.workingAgent();
    this.view.assignedAgentId = null;
    return [...this.moveTo('backlog', reason, now), ...this.idle(working, now)];
  }

  ask(agentId: string, questionId: string, question: string, now: Date): Change {
    this.view.questions.push({
      id: questionId,
      question,
      agentId,
      answer: null,
      askedAt: now.toISOString(),
      answeredAt: null,
    });
    return [
      ...this.moveTo('needs_input', 'question asked', now),
      this.event('task:needs_input', { taskId: this.view.id, questionId, question }, now),
    ];
  }

  answer(answer: string, now: Date): Change {
    const open = this.openQuestion!;
    open.answer = answer;
    open.answeredAt = now.toISOString();
    return [
      this.event('task:question_answered', { taskId: this.view.id, questionId: open.id }, now),
      ...this.moveTo('in_progress', 'question answered', now),
    ];
  }

  progress(agentId: string, message: string, now: Date): Change {
    return [this.event('task:progress', { taskId: this.view.id, agentId, message }, now)];
  }

  remind(now: Date): Change {
    const open = this.openQuestion!;
    return [
      this.event(
        'task:input_reminder',
        { taskId: this.view.id, questionId: open.id, waitingSince: open.askedAt },
        now,
      ),
    ];
  }

  recordBranch(branch: string, now: Date): Change {
    if (this.view.branch === branch) return [];
    this.view.branch = branch;
    return [this.event('task:branch_created', { taskId: this.view.id, branch }, now)];
  }

  recordPullRequest(pr: { prNumber: number; prUrl: string }, now: Date): Change {
    if (this.view.prNumber === pr.prNumber && this.view.prUrl === pr.prUrl) return [];
    this.view.prNumber = pr.prNumber;
    this.view.prUrl = pr.prUrl;
    return [this.event('task:pr_opened', { taskId: this.view.id, ...pr }, now)];
  }

  deliveryFailed(step: DeliveryStep, message: string, now: Date): Change {
    return [this.event('task:delivery_failed', { taskId: this.view.id, step, message }, now)];
  }

  submit(
    details: { previewUrl?: string; previewCommit?: string; branch?: string; prUrl?: string },
    now: Date,
  ): Change {
    if (details.previewUrl !== undefined) this.view.previewUrl = details.previewUrl;
    if (details.previewCommit !== undefined) this.view.previewCommit = details.previewCommit;
    if (details.branch !== undefined) this.view.branch = details.branch;
    if (details.prUrl !== undefined) this.view.prUrl = details.prUrl;
    const working = this.workingAgent();
    return [
      ...this.moveTo('ready_to_test', 'submitted for review', now),
      this.event(
        'task:ready_to_test',
        { taskId: this.view.id, previewUrl: this.view.previewUrl },
        now,
      ),
      ...this.idle(working, now),
    ];
  }

  approve(now: Date): Change {
    // What a person approves is what they tested: the preview's commit.
    this.view.approvedCommit = this.view.previewCommit;
    return this.moveTo('approved', 'approved', now);
  }

  beginMerge(mergeId: string, now: Date): Change {
    if (this.view.mergeId === mergeId) return [];
    this.view.mergeId = mergeId;
    return [this.event('task:merge_started', { taskId: this.view.id, mergeId }, now)];
  }

  mergeConflict(mergeId: string, files: string[], now: Date): Change {
    this.view.mergeId = null;
    const feedback = `Merging into staging conflicts in ${files.length ? files.join(', ') : 'some files'}: update your branch from staging, resolve the conflicts, push, and trigger the preview again.`;
    this.view.approvedCommit = null;
    this.view.feedback.push(feedback);
    return [
      this.event('task:merge_conflict', { taskId: this.view.id, mergeId, files }, now),
      ...this.moveTo('changes_requested', 'merge conflict', now),
      this.event('task:changes_requested', { taskId: this.view.id, feedback }, now),
    ];
  }

  endMerge(mergeId: string, reason: string, now: Date): Change {
    this.view.mergeId = null;
    return [this.event('task:merge_rolled_back', { taskId: this.view.id, mergeId, reason }, now)];
  }

  requestChanges(feedback: string, now: Date): Change {
    this.view.feedback.push(feedback);
    return [
      ...this.moveTo('changes_requested', 'changes requested', now),
      this.event('task:changes_requested', { taskId: this.view.id, feedback }, now),
    ];
  }

  cancel(reason: string, now: Date): Change {
    const working = this.workingAgent();
    return [...this.moveTo('cancelled', reason, now), ...this.idle(working, now)];
  }

  markStaged(now: Date): Change {
    // The task keeps the id of the merge that took it to staging.
    return this.moveTo('staging', `merged to staging by merge ${this.view.mergeId}`, now);
  }

  // --- internals ----------------------------------------------------------------------------

  /** The agent working on the task now (it is in_progress or needs_input), if any. */
  private workingAgent(): string | null {
    const working = ['in_progress', 'needs_input'].includes(this.view.state);
    return working ? this.view.assignedAgentId : null;
  }

  /**
   * `agent:status` idle for the agent that was working on the task and stopped (it released it,
   * lost its lease, submitted it for review, or a person cancelled it).
   */
  private idle(agentId: string | null, now: Date): Change {
    if (!agentId) return [];
    return [this.event('agent:status', { agentId, status: 'idle', currentTaskId: null }, now)];
  }

  private requireState(allowed: TaskState[], what: string): void {
    if (!allowed.includes(this.view.state)) {
      throw new TransitionRefused(
        `task ${this.view.id} is ${this.view.state}; only a task that is ${allowed.join(' or ')} can ${what}`,
      );
    }
  }

  private requireNotMerging(what: string): void {
    if (this.view.state === 'approved' && this.view.mergeId) {
      throw new TransitionRefused(
        `task ${this.view.id} is being merged to staging by merge ${this.view.mergeId} and cannot ${what} now`,
      );
    }
  }

  private requireOwner(agentId: string): void {
    if (this.view.assignedAgentId !== agentId) {
      throw new TransitionRefused(`task ${this.view.id} is not assigned to agent ${agentId}`);
    }
  }

  private moveTo(to: TaskState, reason: string, now: Date): Change {
    const from = this.view.state;
    this.view.state = to;
    const last = this.history[this.history.length - 1];
    this.history.push({ seq: (last?.seq ?? 0) + 1, from, to, reason, at: now.toISOString() });
    return [
      this.event(
        'task:status_changed',
        { taskId: this.view.id, oldState: from, newState: to },
        now,
      ),
    ];
  }

  private event<T extends EventType>(
    type: T,
    payload: EventPayloads[T],
    now: Date,
  ): RecordedEvent<T> {
    this.eventSeq += 1;
    return { taskSeq: this.eventSeq, type, payload, at: now.toISOString() };
  }
}
