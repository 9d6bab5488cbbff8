/**
 * The worker probe: a one-activity workflow that proves a worker is polling the task queue and
 * can reach MySQL and Redis. `npm start` runs it once everything is up; operators can run it any
 * time (`temporal workflow execute --type workerProbeWorkflow --task-queue aiworker`).
 */
export const WORKER_PROBE_WORKFLOW = 'workerProbeWorkflow';

/** What the probe's activity saw from inside the worker. */
export interface WorkerProbeResult {
  workerIdentity: string;
  mysql: 'up' | 'down';
  redis: 'up' | 'down';
  checkedAt: string;
}
