import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities';
import type { Config } from '../platform/config';
import { temporalConnectionOptions } from '../platform/temporal';

/** Where the worker finds workflow code when it bundles it itself. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

/**
 * Creates (but does not run) a worker on aiworker's task queue. `bundle` lets tests share one
 * pre-built workflow bundle instead of bundling per worker.
 */
export async function createWorker(
  config: Pick<Config, 'temporal'>,
  deps: ActivityDeps,
  bundle?: WorkerOptions['workflowBundle'],
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(deps),
  });
  return { worker, connection };
}
