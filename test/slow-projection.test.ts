import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { agentHeartbeatSignal, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { standInTaskStart, startStandInWorker } from './support/stand-in-worker';
import { uniqueTaskQueue } from './support/worker';

/** The workflow task timeout of these tests: the SDK extends a task that is still busy at 80 %. */
const WORKFLOW_TASK_TIMEOUT_MS = 2_000;
/** The first projection outlasts its workflow task, as it can when the database is slow. */
const FIRST_PROJECTION_MS = 2_600;

/**
 * A task's first projection may take longer than its workflow task (a slow database, a busy
 * worker). Meanwhile an agent claims the task and, having it, heartbeats. The history this
 * writes must replay: a projection that held the workflow task open (a local activity) left the
 * heartbeat's timer commands and the projection's result in an order that replay could not
 * reproduce, and the task was stuck after its next eviction.
 *
 * The projection is a stand-in that only waits (the read model is not what is tested here); the
 * Temporal server and the workflow code are the run's own.
 */
describe('a first projection slower than its workflow task', () => {
  const taskQueue = uniqueTaskQueue('slow-projection');
  let client: Client;
  let codePath: string;
  let stop: () => Promise<void>;
  const projections = new Map<string, number>();

  beforeAll(async () => {
    ({ client, codePath, stop } = await startStandInWorker(taskQueue, async (change) => {
      const seen = projections.get(change.view.id) ?? 0;
      projections.set(change.view.id, seen + 1);
      if (seen === 0) await sleep(FIRST_PROJECTION_MS);
    }));
  });
  afterAll(() => stop());

  it.each([500, 1_000, 1_400])(
    'replays after a claim and a heartbeat %i ms into it',
    async (heartbeatAfterMs) => {
      const taskId = randomUUID();
      const agentId = randomUUID();
      // The claim comes with the start, so that it is in the task's first workflow task.
      const start = new WithStartWorkflowOperation('taskWorkflow', {
        ...standInTaskStart(taskQueue, taskId),
        workflowIdConflictPolicy: 'FAIL',
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
      });
      const claimed = client.workflow.executeUpdateWithStart(claimTaskUpdate, {
        args: [{ agentId }],
        startWorkflowOperation: start,
      });
      // Not the operation's handle: it is given only once the claim has an answer.
      const handle = client.workflow.getHandle(taskWorkflowId(taskId));
      await sleep(heartbeatAfterMs);
      await handle.signal(agentHeartbeatSignal, { agentId });
      expect(await claimed).toMatchObject({ state: 'in_progress', assignedAgentId: agentId });
      await handle.signal(agentHeartbeatSignal, { agentId });

      const history = await handle.fetchHistory();
      await expect(
        Worker.runReplayHistory({ workflowBundle: { codePath } }, history),
      ).resolves.toBeUndefined();
    },
  );
});
