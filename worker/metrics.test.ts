import { randomBytes, randomUUID } from 'node:crypto';
import { errorBodySchema } from '../contracts/errors';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { freePort } from '../test/support/free-port';
import { apiClient } from '../test/support/http';
import { scrape, scrapeText, valueOf } from '../test/support/metrics';
import { uniqueTaskQueue } from '../test/support/worker';
import { WorkerProcess } from '../test/support/worker-process';

/** `npm run worker`'s metrics: aiworker's and the Temporal SDK core's, on the health port. */
describe("the worker's /metrics", () => {
  const taskQueue = uniqueTaskQueue('worker-metrics');
  const metricsToken = randomBytes(24).toString('hex');
  let worker: WorkerProcess;
  let api: TestApi;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    worker = new WorkerProcess({
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKER_HEALTH_PORT: String(port),
      AIWORKER_METRICS_TOKEN: metricsToken,
    });
    await worker.start();
    api = await startTestApi({ taskQueue });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
  });

  it("serves aiworker's metrics and the SDK core's in one scrape", async () => {
    // A project is created by a workflow and its activities, on this worker.
    const created = await apiClient(api.url, api.adminToken).post('/api/projects', {
      name: `worker-metrics-${randomUUID()}`,
    });
    expect(created.status).toBe(201);
    const res = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'aiworker_activity_failures_total',
      'aiworker_preview_deploy_duration_seconds',
      'aiworker_merge_duration_seconds',
      'aiworker_staging_deploy_duration_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    const samples = await scrape(url, metricsToken);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(
      valueOf(samples, 'temporal_workflow_task_schedule_to_start_latency_seconds_count', {
        task_queue: taskQueue,
      }),
    ).toBeGreaterThan(0);
    expect(
      valueOf(samples, 'temporal_activity_execution_latency_seconds_count', {
        task_queue: taskQueue,
      }),
    ).toBeGreaterThan(0);
    // Only aiworker's own names besides the SDK core's and the process's.
    expect(
      samples
        .filter((s) => !/^(aiworker|temporal|process|nodejs)_/.test(s.name))
        .map((s) => s.name),
    ).toEqual([]);
  });

  it('answers only the metrics token', async () => {
    for (const authorization of [undefined, `Bearer ${metricsToken.slice(1)}`]) {
      const res = await fetch(`${url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status).toBe(401);
      expect(errorBodySchema.parse(await res.json()).error).toEqual({
        code: 'unauthorized',
        message: 'send Authorization: Bearer <AIWORKER_METRICS_TOKEN> to read the metrics',
        retryable: false,
      });
    }
    await expect(scrapeText(url, metricsToken)).resolves.toContain('temporal_');
  });
});
