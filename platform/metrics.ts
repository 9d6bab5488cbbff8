import { createHash, timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * This process's metrics, served at `GET /metrics` (docs/operations.md, "Metrics"). Each module
 * that measures something registers its metrics here (`api/metrics/`, `mcp/metrics.ts`,
 * `activities/metrics.ts`), so a process serves only the metrics of the code it runs.
 */
export const registry = new Registry();

// Memory, CPU, event loop lag, garbage collection. Unprefixed (`process_*`, `nodejs_*`): those
// names are the same in every Node.js exporter, and stock dashboards expect them.
collectDefaultMetrics({ register: registry });

/** Buckets of durations, in seconds: from milliseconds up to the 20 minutes a deploy may take. */
export const SECONDS_BUCKETS = [
  0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200,
];

/** Why a scrape of `/metrics` is refused, in the words of an error body. */
export interface ScrapeRefusal {
  status: 401 | 404;
  code: 'unauthorized' | 'not_found';
  message: string;
}

/**
 * Whether a request may read `/metrics`: only with `Authorization: Bearer <AIWORKER_METRICS_TOKEN>`,
 * and not at all while that variable is unset. Null when it may.
 */
export function scrapeRefusal(
  token: string | undefined,
  authorization: string | undefined,
): ScrapeRefusal | null {
  if (token === undefined) {
    return {
      status: 404,
      code: 'not_found',
      message: 'metrics are off: set AIWORKER_METRICS_TOKEN to turn them on',
    };
  }
  const given = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
  // Digests have one length, so the comparison takes as long whatever was sent.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  if (timingSafeEqual(digest(given), digest(token))) return null;
  return {
    status: 401,
    code: 'unauthorized',
    message: 'send Authorization: Bearer <AIWORKER_METRICS_TOKEN> to read the metrics',
  };
}
