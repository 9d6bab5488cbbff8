import { proxyActivities } from '@temporalio/workflow';
import type { WorkerProbeResult } from '../contracts/probe';
import type { Activities } from '../activities';

const { probeDependencies } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/** Proves that a worker polls the task queue and reaches MySQL and Redis (see contracts/probe.ts). */
export async function workerProbeWorkflow(): Promise<WorkerProbeResult> {
  return await probeDependencies();
}
