import path from 'node:path';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities';
import { COMPILED, DIST_DIR } from '../platform/config';
import type { Config } from '../platform/config';
import { temporalConnectionOptions } from '../platform/temporal';

/** Where the worker finds workflow code when it bundles it itself (development, under tsx). */
const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

/**
 * Interceptors that run inside workflow code, so they are part of every bundle: workflows/tracing.ts
 * passes the trace of the request that started or changed a task on to its activities. (Not the
 * OpenTelemetry package's own workflow interceptors: they set timers inside workflow code, and
 * histories recorded without them would no longer replay.)
 */
const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/tracing')];

/** How workflow code is bundled: by the build, by tests sharing one bundle, by a dev worker. */
export const WORKFLOW_BUNDLE_OPTIONS: Pick<
  BundleOptions,
  'workflowsPath' | 'workflowInterceptorModules'
> = { workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES };

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
 * What traces a worker's work: the workflow interceptors (in the bundle; named here only for a
 * worker that bundles the sources itself) and the activities' spans.
 */
function traced(bundling: boolean): Pick<WorkerOptions, 'interceptors'> {
  return {
    interceptors: {
      ...(bundling && { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
  };
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
  const code = workflowCode(bundle);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...code,
    ...traced(code.workflowsPath !== undefined),
    // Task workflows wait for days: the cache holds the recently active ones, the others are
    // replayed from their history when something next happens to them (docs/performance.md).
    maxCachedWorkflows: config.maxCachedWorkflows,
    activities: createActivities(deps),
  });
  return { worker, connection };
}
