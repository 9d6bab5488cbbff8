import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities';
import { COMPILED, DIST_DIR } from '../platform/config';
import type { Config } from '../platform/config';
import { temporalConnectionOptions } from '../platform/temporal';

/** Where the worker finds workflow code when it bundles it itself (development, under tsx). */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

/** The workflow bundle `npm run build` writes, which the compiled worker loads. */
export const WORKFLOW_BUNDLE_FILE = path.join(DIST_DIR, 'workflow-bundle.js');

/**
 * The worker's workflow code: a prebuilt bundle when one is given (`AIWORKER_WORKFLOW_BUNDLE`,
 * tests sharing one), the build's bundle when running compiled, else the sources bundled now.
 */
function workflowCode(
  bundle: WorkerOptions['workflowBundle'],
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (COMPILED) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_FILE } };
  return { workflowsPath: WORKFLOWS_PATH };
}

/**
 * Creates (but does not run) a worker on aiworker's task queue. `bundle` lets tests share one
 * pre-built workflow bundle instead of bundling per worker.
 */
export async function createWorker(
  config: Pick<Config, 'temporal' | 'maxCachedWorkflows'>,
  deps: ActivityDeps,
  bundle?: WorkerOptions['workflowBundle'],
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowCode(bundle),
    // Task workflows wait for days: the cache holds the recently active ones, the others are
    // replayed from their history when something next happens to them (docs/performance.md).
    maxCachedWorkflows: config.maxCachedWorkflows,
    activities: createActivities(deps),
  });
  return { worker, connection };
}
