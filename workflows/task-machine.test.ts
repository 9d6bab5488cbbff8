import type { TaskWorkflowInput } from '../contracts/task';
import { TaskMachine, TransitionRefused } from './task-machine';

const now = new Date('2026-01-01T00:00:00Z');
const input: TaskWorkflowInput = {
  task: { id: 't1', projectId: 'p1', title: 'T', description: 'D', priority: 0 },
  reminderAfterMs: 1000,
  leaseMs: 60_000,
};

function fresh() {
  return TaskMachine.create(input, now).machine;
}

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TransitionRefused);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('TaskMachine', () => {
  it('starts in backlog with a task:created event', () => {
    const { machine, change } = TaskMachine.create(input, now);
    expect(machine.state).toBe('backlog');
    expect(change).toEqual([
      {
        taskSeq: 1,
        type: 'task:created',
        payload: { taskId: 't1', title: 'T', priority: 0 },
        at: now.toISOString(),
      },
    ]);
  });

  it('allows each transition of the lifecycle, numbering events without gaps', () => {
    const m = fresh();
    const seqs: number[] = [1];
    const step = (check: () => void, apply: () => Array<{ taskSeq: number }>) => {
      check();
      seqs.push(...apply().map((e) => e.taskSeq));
    };
    step(
      () => m.checkClaim('a'),
      () => m.claim('a', now),
    );
    step(
      () => m.checkAsk('a'),
      () => m.ask('a', 'q1', 'why?', now),
    );
    expect(m.state).toBe('needs_input');
    step(
      () => m.checkAnswer('q1'),
      () => m.answer('because', now),
    );
    step(
      () => m.checkSubmit('a'),
      () => m.submit({ previewUrl: 'http://x' }, now),
    );
    step(
      () => m.checkRequestChanges(),
      () => m.requestChanges('more', now),
    );
    step(
      () => m.checkClaim('a'),
      () => m.claim('a', now),
    );
    step(
      () => m.checkSubmit('a'),
      () => m.submit({ previewCommit: 'c2' }, now),
    );
    step(
      () => m.checkApprove(),
      () => m.approve(now),
    );
    expect(m.current().approvedCommit).toBe('c2');
    step(
      () => m.checkBeginMerge('m1'),
      () => m.beginMerge('m1', now),
    );
    expect(refusal(() => m.checkCancel())).toMatch(/being merged to staging by merge m1/);
    expect(refusal(() => m.checkBeginMerge('m2'))).toMatch(/already being merged by merge m1/);
    step(
      () => m.checkMergeOutcome('m1'),
      () => m.markStaged(now),
    );
    expect(m.state).toBe('staging');
    expect(m.isFinal).toBe(true);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(m.current().feedback).toEqual(['more']);
    expect(m.transitions().map((t) => t.to)).toEqual([
      'backlog',
      'in_progress',
      'needs_input',
      'in_progress',
      'ready_to_test',
      'changes_requested',
      'in_progress',
      'ready_to_test',
      'approved',
      'staging',
    ]);
  });

  it('refuses what the state does not allow, naming the current state, and changes nothing', () => {
    const m = fresh();
    const before = m.snapshot();
    expect(refusal(() => m.checkApprove())).toBe(
      'task t1 is backlog; only a task that is ready_to_test can be approved',
    );
    expect(refusal(() => m.checkAnswer(undefined))).toBe(
      'task t1 has no question waiting for an answer (it is backlog)',
    );
    expect(refusal(() => m.checkAsk('a'))).toMatch(/task t1 is backlog/);
    expect(refusal(() => m.checkSubmit('a'))).toMatch(/task t1 is backlog/);
    expect(refusal(() => m.checkBeginMerge('m1'))).toMatch(
      /only a task that is approved can be merged/,
    );
    expect(m.snapshot()).toEqual(before);
  });

  it("refuses another agent's actions on an assigned task", () => {
    const m = fresh();
    m.claim('a', now);
    expect(refusal(() => m.checkAsk('b'))).toBe('task t1 is not assigned to agent b');
    expect(refusal(() => m.checkSubmit('b'))).toBe('task t1 is not assigned to agent b');
    expect(refusal(() => m.checkRelease('b'))).toBe('task t1 is not assigned to agent b');
    expect(refusal(() => m.checkClaim('b'))).toMatch(/task t1 is in_progress/);
  });

  it('keeps changes requested for the agent that did the work', () => {
    const m = fresh();
    m.claim('a', now);
    m.submit({}, now);
    m.requestChanges('fix it', now);
    expect(refusal(() => m.checkClaim('b'))).toBe('task t1 is waiting for changes by agent a');
    expect(() => m.checkClaim('a')).not.toThrow();
  });

  it('answers only the open question, once', () => {
    const m = fresh();
    m.claim('a', now);
    m.ask('a', 'q1', 'one?', now);
    expect(refusal(() => m.checkAsk('a'))).toBe(
      'task t1 is already waiting for an answer to question q1',
    );
    expect(refusal(() => m.checkAnswer('q9'))).toBe(
      'task t1 has no question q9; the open question is q1',
    );
    m.answer('yes', now);
    m.ask('a', 'q2', 'two?', now);
    expect(refusal(() => m.checkAnswer('q1'))).toBe(
      'question q1 was already answered; the open question is q2',
    );
  });

  it('cancels from any state before staging, never after', () => {
    for (const setUp of [
      (m: TaskMachine) => m,
      (m: TaskMachine) => (m.claim('a', now), m),
      (m: TaskMachine) => (m.claim('a', now), m.ask('a', 'q', '?', now), m),
      (m: TaskMachine) => (m.claim('a', now), m.submit({}, now), m.approve(now), m),
    ]) {
      const m = setUp(fresh());
      m.checkCancel();
      m.cancel('no longer needed', now);
      expect(m.state).toBe('cancelled');
      expect(refusal(() => m.checkCancel())).toBe('task t1 is cancelled and cannot be cancelled');
    }
    const staged = fresh();
    staged.claim('a', now);
    staged.submit({ previewCommit: 'c1' }, now);
    staged.approve(now);
    staged.beginMerge('m1', now);
    staged.markStaged(now);
    expect(refusal(() => staged.checkCancel())).toBe('task t1 is staging and cannot be cancelled');
  });

  it('logs agent:status when an agent takes a task and when it stops working on it', () => {
    const statuses = (change: ReturnType<TaskMachine['claim']>) =>
      change.filter((e) => e.type === 'agent:status').map((e) => e.payload);
    const working = { agentId: 'a', status: 'working', currentTaskId: 't1' };
    const idle = { agentId: 'a', status: 'idle', currentTaskId: null };

    const submitted = fresh();
    expect(statuses(submitted.claim('a', now))).toEqual([working]);
    expect(statuses(submitted.submit({}, now))).toEqual([idle]);
    expect(statuses(submitted.requestChanges('more', now))).toEqual([]);
    expect(statuses(submitted.claim('a', now))).toEqual([working]);

    const released = fresh();
    released.claim('a', now);
    released.ask('a', 'q1', '?', now);
    expect(statuses(released.release('lease expired', now))).toEqual([idle]);
    expect(statuses(released.cancel('not needed', now))).toEqual([]);

    const cancelled = fresh();
    cancelled.claim('a', now);
    const change = cancelled.cancel('not needed', now);
    expect(statuses(change)).toEqual([idle]);
    // The idle event comes after the state change, numbered in order.
    expect(change.map((e) => e.type)).toEqual(['task:status_changed', 'agent:status']);
    expect(change[1]!.taskSeq).toBe(change[0]!.taskSeq + 1);
  });

  it('continues from a snapshot exactly where it was', () => {
    const m = fresh();
    m.claim('a', now);
    m.ask('a', 'q1', '?', now);
    const resumed = TaskMachine.create({ ...input, snapshot: m.snapshot() }, now);
    expect(resumed.change).toEqual([]);
    expect(resumed.machine.snapshot()).toEqual(m.snapshot());
    expect(resumed.machine.remind(now)[0]).toMatchObject({
      taskSeq: 6,
      type: 'task:input_reminder',
    });
  });

  it('sends a task whose merge conflicts back to its agent, and lets a failed merge go', () => {
    const m = fresh();
    m.claim('a', now);
    m.submit({ previewCommit: 'c1' }, now);
    m.approve(now);
    m.beginMerge('m1', now);
    m.endMerge('m1', 'staging deploy failed', now);
    expect(m.current()).toMatchObject({ state: 'approved', mergeId: null, approvedCommit: 'c1' });
    m.checkBeginMerge('m2');
    m.beginMerge('m2', now);
    const change = m.mergeConflict('m2', ['src/app.ts'], now);
    expect(change.map((e) => e.type)).toEqual([
      'task:merge_conflict',
      'task:status_changed',
      'task:changes_requested',
    ]);
    expect(m.current()).toMatchObject({ state: 'changes_requested', assignedAgentId: 'a' });
    expect(m.current().feedback[0]).toMatch(/conflicts in src\/app.ts/);
    expect(refusal(() => m.checkClaim('b'))).toMatch(/waiting for changes by agent a/);
  });

  it('needs a branch before a pull request or a preview', () => {
    const m = fresh();
    m.claim('a', now);
    expect(refusal(() => m.checkDeliver('a', 'create_pr'))).toMatch(/call create_branch/);
    expect(refusal(() => m.checkDeliver('b', 'create_branch'))).toMatch(/not assigned to agent b/);
    m.recordBranch('task-t1-feature', now);
    m.checkDeliver('a', 'trigger_preview');
    expect(m.recordBranch('task-t1-feature', now)).toEqual([]);
  });
});
