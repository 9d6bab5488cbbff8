import { Router } from 'express';
import { z } from 'zod';
import { listAudit } from '../../db/audit';
import type { ApiDeps } from '../deps';
import { requireAdministrator } from '../middleware/auth';
import { validate } from '../validate';

const auditQuery = z
  .object({
    projectId: z.string().uuid('expected a UUID').optional(),
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500, 'at most 500').default(100),
  })
  .strict();

/**
 * `GET /api/audit?projectId=&after=&limit=`: what people did, oldest first, for administrators
 * (README, "Who did it"). `next` is the `after` of the following page, null on the last one.
 */
export function auditRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/audit', requireAdministrator, async (req, res) => {
    const { projectId, after, limit } = validate(auditQuery, req.query, 'query');
    const entries = await listAudit(deps.db, {
      ...(projectId ? { projectId } : {}),
      after,
      limit,
    });
    res.json({ entries, next: entries.length === limit ? Number(entries[limit - 1]!.id) : null });
  });
  return router;
}
