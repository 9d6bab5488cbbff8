import type { RequestHandler } from 'express';
import { endServerSpan, serverSpan } from '../../platform/tracing';
import { routeTemplate } from '../metrics/http';

/**
 * Runs every request inside a server span named by its route template (`POST /api/tasks`), so
 * the Temporal calls it makes, and the workflow and activities they reach, join its trace.
 */
export const traceRequests: RequestHandler = (req, res, next) => {
  serverSpan(req.method, req.headers, (span) => {
    res.once('close', () =>
      endServerSpan(
        span,
        routeTemplate(req),
        req.method,
        res.writableFinished ? res.statusCode : 499,
      ),
    );
    next();
  });
};
