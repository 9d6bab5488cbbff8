import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { standInTaskStart, startStandInWorker } from './support/stand-in-worker';
import { uniqueTaskQueue } from './support/worker';

/** Claims in one burst, each on its own task. */
const BURST = 12;
/** A claim's projection: longer than the first look for a stuck workflow (1.5 s). */
const CLAIM_PROJECTION_MS = 2_500;

/**
 * A burst of updates that all wait longer than the first stuck-probe (a hundred agents starting
 * together, a slow database) must not make one describe call each: the first probe finds its
 * workflow able to run, and the others take that as the wait of every call. The projection is a
 * stand-in that only waits; the Temporal server and the workflow code are the run's own.
 */
describe('stuck-probes under a burst of slow updates', () => {
  const taskQueue = uniqueTaskQueue('probe-burst');
  let client: Client;
  let stop: () => Promise<void>;
  const projections = new Map<string, number>();

  beforeAll(async () => {
    ({ client, stop } = await startStandInWorker(taskQueue, async (change) => {
      const seen = projections.get(change.view.id) ?? 0;
      projections.set(change.view.id, seen + 1);
      // The creation is projected at once; the claim takes its time.
      if (seen > 0) await sleep(CLAIM_PROJECTION_MS);
    }));
  });
  afterAll(() => stop());

  it('looks at one workflow, not at every one, and every claim lands', async () => {
    const taskIds = Array.from({ length: BURST }, () => randomUUID());
    await Promise.all(
      taskIds.map((taskId) =>
        client.workflow.start('taskWorkflow', standInTaskStart(taskQueue, taskId)),
      ),
    );
    for (const taskId of taskIds) {
      while (!projections.has(taskId)) await sleep(50);
    }

    // The describe calls the probes make, counted on the way to the server.
    const service = client.workflowService;
    const describe = service.describeWorkflowExecution;
    let describes = 0;
    Object.assign(service, {
      describeWorkflowExecution: (request: Parameters<typeof describe>[0]) => {
        describes += 1;
        return describe.call(service, request);
      },
    });
    try {
      const agentId = randomUUID();
      const views = await Promise.all(
        taskIds.map((taskId) =>
          executeTaskUpdate(client.workflow.getHandle(taskWorkflowId(taskId)), claimTaskUpdate, {
            agentId,
          }),
        ),
      );
      expect(views.map((v) => v.state)).toEqual(taskIds.map(() => 'in_progress'));
    } finally {
      Object.assign(service, { describeWorkflowExecution: describe });
    }
    console.log(`${describes} describe calls for ${BURST} claims that each took over 2.5 s`);
    // One probe per wave of the burst (one at 1.5 s; one more only on a slow machine, once the
    // wait has grown past three times that), where each claim used to make its own.
    expect(describes).toBeGreaterThanOrEqual(1);
    expect(describes).toBeLessThanOrEqual(3);
  });
});
