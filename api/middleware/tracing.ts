import type { RequestHandler } from 'express';
import { endServerSpan, serverSpan } from '../../platform/tracing';
import { routeTemplate } from '../metrics/http';

/**
 * Runs every request inside a server span named by its route template (`POST /api/tasks`), so
 * the Temporal calls it makes, and the activities of the workflow they reach, join its trace.
 * The span ends when the answer is sent ('finish'; a request whose client left first is not
 * exported): 'close' already has the listeners of the metrics, limits, deadlines and MCP.
 */
export const traceRequests: RequestHandler = (req, res, next) => {
  serverSpan(req.method, req.headers, (span) => {
    res.once('finish', () => endServerSpan(span, routeTemplate(req), req.method, res.statusCode));
    next();
  });
};
