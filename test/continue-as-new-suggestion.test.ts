import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import {
  agentHeartbeatSignal,
  claimTaskUpdate,
  reportProgressUpdate,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { standInTaskStart, startStandInWorker } from './support/stand-in-worker';
import { uniqueTaskQueue } from './support/worker';

/** Steps after which the run must have continued as new (the run's server suggests it at 40 events). */
const MAX_STEPS = 12;

/**
 * Temporal suggests continue-as-new in every workflow task once the history is long, including a
 * task that only delivers an update the validator refuses: such a task leaves no event, and replay
 * never runs it. A task workflow that started its continue-as-new in such a task wrote commands
 * that replay could not match, and the task was stuck after its next eviction. Here an agent
 * holds a task, heartbeats and reports progress while other agents' claims are refused, until
 * the run continues as new (a heartbeat only notes the time; the progress report is the work
 * that reads the suggestion); every history written on the way must replay.
 *
 * The projection is a stand-in that answers at once (the read model is not what is tested here);
 * the Temporal server and the workflow code are the run's own.
 */
describe("Temporal's continue-as-new suggestion", () => {
  const taskQueue = uniqueTaskQueue('can-suggestion');
  let client: Client;
  let codePath: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ client, codePath, stop } = await startStandInWorker(taskQueue));
  });
  afterAll(() => stop());

  /** Waits until the run's history ends with a command of the workflow (its last task done). */
  async function settled(handle: WorkflowHandle, length: number): Promise<number> {
    for (;;) {
      const events = (await handle.fetchHistory()).events ?? [];
      const last = events[events.length - 1];
      const type = String(last?.eventType ?? '');
      if (events.length > length && !/WORKFLOW_TASK_(SCHEDULED|STARTED)|SIGNALED/.test(type)) {
        return events.length;
      }
      await sleep(20);
    }
  }

  // Others' heartbeats shift where the history crosses the server's threshold (four events each
  // and no command), so that the suggestion first comes with a refused claim in one of them.
  it.each([0, 1, 2])(
    'replays when the suggestion first comes with a refused claim (%i heartbeats of others)',
    async (others) => {
      const taskId = randomUUID();
      const holder = randomUUID();
      const started = await client.workflow.start(
        'taskWorkflow',
        standInTaskStart(taskQueue, taskId),
      );
      const firstRun = client.workflow.getHandle(
        taskWorkflowId(taskId),
        started.firstExecutionRunId,
      );
      const latest = client.workflow.getHandle(taskWorkflowId(taskId));
      await latest.executeUpdate(claimTaskUpdate, { args: [{ agentId: holder }] });
      let length = await settled(firstRun, 0);
      for (let i = 0; i < others; i += 1) {
        await latest.signal(agentHeartbeatSignal, { agentId: randomUUID() });
        length = await settled(firstRun, length);
      }

      let continued = false;
      for (let step = 0; step < MAX_STEPS && !continued; step += 1) {
        await latest.signal(agentHeartbeatSignal, { agentId: holder });
        length = await settled(firstRun, length);
        await latest.executeUpdate(reportProgressUpdate, {
          args: [{ agentId: holder, message: `step ${step}` }],
        });
        length = await settled(firstRun, length);
        // Refused: the task is the holder's. It leaves nothing in the history.
        await expect(
          latest.executeUpdate(claimTaskUpdate, { args: [{ agentId: randomUUID() }] }),
        ).rejects.toMatchObject({ cause: { type: TRANSITION_REFUSED } });
        const history = await firstRun.fetchHistory();
        await expect(
          Worker.runReplayHistory({ workflowBundle: { codePath } }, history),
        ).resolves.toBeUndefined();
        continued = (await firstRun.describe()).status.name === 'CONTINUED_AS_NEW';
      }
      expect(continued).toBe(true);
    },
  );
});
