import { z } from 'zod';

const id = z.string().uuid('expected a UUID');

/** Body of `POST /api/merge` (merging to staging: docs/architecture.md, "Agents, delivery and merges"): the approved tasks to merge, in order. */
export const mergeBody = z
  .object({
    taskIds: z
      .array(z.string().uuid())
      .min(1)
      .max(50)
      .refine((ids) => new Set(ids).size === ids.length, { message: 'task ids must be unique' }),
  })
  .strict();

/** `:id` in a route. */
export const mergeIdParams = z.object({ id });

/** `GET /api/merges?projectId=`. */
export const listMergesQuery = z
  .object({
    projectId: id,
    after: id.optional(),
    limit: z.coerce.number().int().min(1).max(200, 'at most 200').default(50),
  })
  .strict();
