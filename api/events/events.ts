import { Router } from 'express';
import { z } from 'zod';
import { deliveredEvent, eventsAfter, taskEvents } from '../../db/tasks';
import type { LoggedEvent } from '../../db/tasks';
import type { DeliveredEvent } from '../../contracts/events';
import type { ApiDeps } from '../deps';
import { requireProjectFor } from '../projects/projects';
import { requireTaskFor } from '../tasks/tasks';
import { validate } from '../validate';
import { idParams } from '../tasks/schema';

/** Most events one catch-up answer carries; ask again after the last `seq` for more. */
export const CATCH_UP_LIMIT = 1000;

export const catchUpQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(CATCH_UP_LIMIT).default(CATCH_UP_LIMIT),
  })
  .strict();

/** An event of the log as socket.io clients receive it. */
export function delivered(e: LoggedEvent): { type: LoggedEvent['type']; data: DeliveredEvent } {
  return {
    type: e.type,
    data: deliveredEvent(e),
  };
}

/** `GET /api/projects/:id/events?after=<seq>`: what a client missed, from the event log, oldest first. */
export function eventRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/projects/:id/events', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const { after, limit } = validate(catchUpQuery, req.query, 'query');
    await requireProjectFor(deps, req.principal!, id, 'read');
    const events = await eventsAfter(deps.db, id, after, limit);
    res.json({ events: events.map(delivered), more: events.length === limit });
  });
  /**
   * `GET /api/tasks/:id/events?after=<seq>&limit=`: the task's own events, oldest first (its
   * timeline on the board), a page at a time.
   */
  router.get('/tasks/:id/events', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const { after, limit } = validate(catchUpQuery, req.query, 'query');
    await requireTaskFor(deps, req.principal!, id, 'read');
    const events = await taskEvents(deps.db, id, after, limit);
    res.json({ events: events.map(delivered), more: events.length === limit });
  });
  return router;
}
