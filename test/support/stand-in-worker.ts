import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { RecordedEvent } from '../../contracts/events';
import { taskWorkflowStartOptions } from '../../platform/task-start';

/** What a stand-in projection is given of a change. */
export interface StandInChange {
  view: { id: string };
  events: RecordedEvent[];
}

/**
 * A worker of the run's workflow bundle on the run's Temporal server whose projection is a
 * stand-in (`project`, then every change counts as published), with a client: for tests of what
 * workflows write to their histories, not of the read model.
 */
export async function startStandInWorker(
  taskQueue: string,
  project: (change: StandInChange) => Promise<void> = () => Promise.resolve(),
): Promise<{ client: Client; codePath: string; stop(): Promise<void> }> {
  const address = process.env.TEMPORAL_ADDRESS!;
  const codePath = process.env.AIWORKER_TEST_WORKFLOW_BUNDLE!;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: { codePath },
    activities: {
      async projectTaskChange(change: StandInChange) {
        await project(change);
        return { events: change.events, published: true };
      },
      publishTaskEvents: () => Promise.resolve(),
    },
  });
  const running = worker.run();
  return {
    client: new Client({ connection }),
    codePath,
    async stop() {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await Runtime.instance().shutdown();
    },
  };
}

/**
 * Start options of a task workflow for a stand-in worker: a placeholder task of its own project,
 * an hour before a question's reminder, and `leaseMs` (an hour unless given).
 */
export function standInTaskStart(taskQueue: string, taskId: string, leaseMs = 3_600_000) {
  return taskWorkflowStartOptions(taskQueue, {
    task: { id: taskId, projectId: randomUUID(), title: 't', description: 'd', priority: 0 },
    reminderAfterMs: 3_600_000,
    leaseMs,
    createdAt: new Date().toISOString(),
  });
}
