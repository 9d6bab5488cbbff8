import type { Request, RequestHandler } from 'express';
import { Counter, Histogram } from 'prom-client';
import { registry, SECONDS_BUCKETS } from '../../platform/metrics';

const requests = new Counter({
  name: 'aiworker_http_requests_total',
  help: 'HTTP requests answered by the API, by method, route template and status ("aborted": the client left first)',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

const durations = new Histogram({
  name: 'aiworker_http_request_duration_seconds',
  help: 'Time from an HTTP request reaching the API to its answer, by method, route template and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [registry],
});

/** Parts of the API answered without a route of their own (static files, the git gateway). */
const AREA = /^\/(api|mcp|git)(?=\/|$)/;

/**
 * The route template that answered (`/api/tasks/:id`), never the URL itself, so the label has
 * as many values as there are routes. A request refused before any route matched (no token,
 * over a limit, no such route), the git gateway and the board's files count under their area:
 * `/api/*`, `/mcp/*`, `/git/*`, else `/*`.
 */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  // The whole path as Express parsed it, wherever the request is now (an error that leaves a
  // router takes the request back to the application: `baseUrl` empty, `path` all of it).
  const segments = `${req.baseUrl}${req.path}`.split('/').filter(Boolean);
  if (typeof path !== 'string') {
    const area = AREA.exec(`/${segments.join('/')}`);
    return area ? `/${area[1]}/*` : '/*';
  }
  // Where the route's router was mounted is forgotten by then, so it is read off the path: the
  // segments before those the route's own path matched.
  const own = path.split('/').filter(Boolean);
  const mount = segments.slice(0, segments.length - own.length);
  return `/${[...mount, ...own].join('/')}`;
}

/** Counts and times every HTTP request; mounted first, so refusals by middleware count too. */
export const measureRequests: RequestHandler = (req, res, next) => {
  const started = process.hrtime.bigint();
  res.once('close', () => {
    const route = routeTemplate(req);
    const status = res.writableFinished ? String(res.statusCode) : 'aborted';
    requests.inc({ method: req.method, route, status });
    durations.observe(
      {
        method: req.method,
        route,
        status_class: res.writableFinished ? `${String(res.statusCode)[0]}xx` : 'aborted',
      },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  });
  next();
};
