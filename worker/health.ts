import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Worker } from '@temporalio/worker';
import type { ErrorBody } from '../contracts/errors';
import { registry, scrapeRefusal } from '../platform/metrics';
import { workerMetricsText } from './metrics';
import type { WorkerMetrics } from './metrics';

/**
 * The worker's health probes, for Kubernetes (`WORKER_HEALTH_PORT`): `GET /healthz` answers while
 * the process's event loop runs (liveness), `GET /readyz` is 200 only while the Temporal worker
 * is running, i.e. polling its task queue (readiness), and 503 naming its state otherwise.
 * `GET /metrics` serves the worker's metrics to the bearer of the metrics token.
 */
export function startWorkerHealth(
  worker: Worker,
  host: string,
  port: number,
  metrics: WorkerMetrics,
): Promise<Server> {
  const server = createServer((req, res) => {
    const state = worker.getState();
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET')
      return answer(405, { error: { code: 'method_not_allowed', message: 'use GET' } });
    if (req.url === '/healthz') return answer(200, { status: 'ok', state });
    if (req.url === '/readyz') {
      return state === 'RUNNING'
        ? answer(200, { status: 'ready', state })
        : answer(503, {
            error: {
              code: 'not_ready',
              message: `the worker is ${state.toLowerCase()}, not polling`,
            },
            state,
          });
    }
    if (req.url === '/metrics') {
      const refused = scrapeRefusal(metrics.token, req.headers.authorization);
      if (refused) {
        const body: ErrorBody = {
          error: { code: refused.code, message: refused.message, retryable: false },
        };
        return answer(refused.status, body);
      }
      return void workerMetricsText(metrics).then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        () =>
          answer(500, {
            error: { code: 'internal', message: 'the metrics could not be read', retryable: false },
          }),
      );
    }
    return answer(404, {
      error: { code: 'not_found', message: 'only /healthz, /readyz and /metrics are here' },
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
