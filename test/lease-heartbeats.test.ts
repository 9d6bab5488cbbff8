import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { agentHeartbeatSignal, claimTaskUpdate, taskViewQuery } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { eventTypeName } from './replay/corpus';
import { standInTaskStart, startStandInWorker } from './support/stand-in-worker';
import { uniqueTaskQueue } from './support/worker';

/**
 * An agent's heartbeat only notes the time in its task's workflow: it writes no command, so
 * whatever else the same workflow task brings (the claim's projection result, an answer, an
 * update) cannot change the order of the commands the workflow writes, live or on replay. The
 * lease still counts from the latest sign of life: when its period ends, the next one starts
 * from that heartbeat, and a silent agent loses the task.
 *
 * The projection is a stand-in that answers at once (the read model is not what is tested here);
 * the Temporal server and the workflow code are the run's own.
 */
describe('heartbeats on a leased task', () => {
  const taskQueue = uniqueTaskQueue('lease-heartbeats');
  let client: Client;
  let codePath: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ client, codePath, stop } = await startStandInWorker(taskQueue));
  });
  afterAll(() => stop());

  async function claimedTask(leaseMs: number) {
    const taskId = randomUUID();
    const agentId = randomUUID();
    const started = await client.workflow.start(
      'taskWorkflow',
      standInTaskStart(taskQueue, taskId, leaseMs),
    );
    const handle = client.workflow.getHandle(taskWorkflowId(taskId));
    await handle.executeUpdate(claimTaskUpdate, { args: [{ agentId }] });
    // The run's server suggests continue-as-new early (at 40 events): histories are read from the
    // first run.
    const firstRun = client.workflow.getHandle(taskWorkflowId(taskId), started.firstExecutionRunId);
    return { handle, firstRun, agentId };
  }

  /** Asks `probe` every 100 ms until it answers something, for at most `ms`. */
  async function eventually<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > until) throw new Error(`nothing after ${ms} ms`);
      await sleep(100);
    }
  }

  it('writes no command for a heartbeat, and the history replays', async () => {
    const { handle, firstRun, agentId } = await claimedTask(3_600_000);
    for (let i = 0; i < 5; i += 1) {
      await handle.signal(agentHeartbeatSignal, { agentId });
      // The query is answered once the signal's workflow task has run.
      await handle.query(taskViewQuery);
    }
    const history = await firstRun.fetchHistory();
    const events = (history.events ?? []).map(eventTypeName);
    expect(events.filter((t) => t === 'WorkflowExecutionSignaled')).toHaveLength(5);
    // The claim started the lease's one timer; no heartbeat cancelled it or started another.
    expect(events.filter((t) => t.startsWith('Timer'))).toEqual(['TimerStarted']);
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath } }, history),
    ).resolves.toBeUndefined();
  });

  it('starts the next lease period from the latest heartbeat, and releases a silent agent', async () => {
    // Long enough that a busy machine still delivers the heartbeat inside the first period.
    const leaseMs = 6_000;
    const { handle, firstRun, agentId } = await claimedTask(leaseMs);
    // A heartbeat well inside the first period.
    await sleep(1_000);
    await handle.signal(agentHeartbeatSignal, { agentId });
    // The first period ends: the task stays the agent's, and a shorter timer runs to the end of
    // the period that began with the heartbeat.
    const second = await eventually(30_000, async () => {
      const history = await firstRun.fetchHistory();
      const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes);
      return timers.length >= 2 ? { history, timers } : undefined;
    });
    expect((await handle.query(taskViewQuery)).assignedAgentId).toBe(agentId);
    const next = second.timers[1]!.timerStartedEventAttributes!.startToFireTimeout!;
    const nextMs = Number(next.seconds ?? 0) * 1000 + Math.round((next.nanos ?? 0) / 1e6);
    expect(nextMs).toBeLessThan(leaseMs);
    // Silent since: the task goes back to the backlog.
    const released = await eventually(30_000, async () => {
      const view = await handle.query(taskViewQuery);
      return view.state === 'backlog' ? view : undefined;
    });
    expect(released.assignedAgentId).toBeNull();
    const history = await firstRun.fetchHistory();
    // Released by the second timer, not by a signal or an update.
    expect(
      (history.events ?? []).map(eventTypeName).filter((t) => t === 'TimerFired'),
    ).toHaveLength(2);
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath } }, history),
    ).resolves.toBeUndefined();
  });
});
