import { createServer } from 'node:net';
import { registry } from '../platform/metrics';

/** What the worker's `/metrics` serves, and to whom. */
export interface WorkerMetrics {
  /** `AIWORKER_METRICS_TOKEN`: metrics are off without it. */
  token: string | undefined;
  /** Where the Temporal SDK core exports its own metrics on loopback (`Runtime.install`). */
  coreUrl: string | null;
}

/** A port on 127.0.0.1 that nothing listens on now, for the SDK core's Prometheus exporter. */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The worker's metrics in Prometheus's text format: aiworker's (activities, process), then the
 * SDK core's (`temporal_*`: polls, task latencies, the sticky cache), so one scrape target
 * covers both. The core's are left out of a scrape when its exporter does not answer in time.
 */
export async function workerMetricsText(metrics: WorkerMetrics): Promise<string> {
  const own = await registry.metrics();
  if (!metrics.coreUrl) return own;
  const core = await fetch(metrics.coreUrl, { signal: AbortSignal.timeout(2000) })
    .then((res) => (res.ok ? res.text() : ''))
    .catch(() => '');
  return `${own}\n${core}`;
}
