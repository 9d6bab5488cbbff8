import { z } from 'zod';

export { mergeBody } from '../../contracts/merge';

const id = z.string().uuid('expected a UUID');

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
