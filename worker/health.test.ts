import { freePort } from '../test/support/free-port';
import { uniqueTaskQueue } from '../test/support/worker';
import { WorkerProcess } from '../test/support/worker-process';

/** The probes Kubernetes sends a worker (`WORKER_HEALTH_PORT`). */
describe('the worker health probes', () => {
  let worker: WorkerProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    worker = new WorkerProcess({
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('worker-health'),
      WORKER_HEALTH_PORT: String(port),
    });
    await worker.start();
  }, 120_000);
  afterAll(async () => {
    await worker.stop();
  });

  it('is alive and ready while it polls, and answers nothing else', async () => {
    const alive = await fetch(`${url}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'ok', state: 'RUNNING' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', state: 'RUNNING' });
    // Without AIWORKER_METRICS_TOKEN, metrics are off (worker/metrics.test.ts turns them on).
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.json()).toEqual({
      error: {
        code: 'not_found',
        message: 'metrics are off: set AIWORKER_METRICS_TOKEN to turn them on',
        retryable: false,
      },
    });
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/readyz`, { method: 'POST' })).status).toBe(405);
  });
});
