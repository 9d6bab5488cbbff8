import type { ChainableCommander, Redis } from 'ioredis';

/** Cache keys and lifetimes (docs/architecture.md, "Events and cache"). */
export const CACHE = {
  task: {
    key: (id: string) => `task:${id}`,
    ttlSeconds: 300,
    generation: (id: string) => `gen:task:${id}`,
  },
  taskList: {
    /** One page of the project's list: the first page of every task unless a query says more. */
    key: (projectId: string, page: { state?: string; after?: string; limit?: number } = {}) =>
      `task:list:${projectId}:${page.state ?? '*'}:${page.after ?? ''}:${page.limit ?? 500}`,
    ttlSeconds: 120,
    generation: (projectId: string) => `gen:project:${projectId}`,
  },
  project: {
    key: (id: string) => `project:${id}`,
    ttlSeconds: 600,
    generation: (id: string) => `gen:project:${id}`,
  },
} as const;

/** How long a generation counter lives; far longer than any cached value it guards. */
const GENERATION_TTL_SECONDS = 86_400;

/**
 * Invalidates every cached value about a task and its project. Cached values carry the
 * generation they were read under; bumping it makes them stale at once, even one written by a
 * reader that raced with this write (see api/cache.ts).
 */
export async function bumpGenerations(
  redis: Redis,
  ids: { taskId?: string; projectId: string },
  /** Commands to send in the same transaction, after the bumps (one round trip for all). */
  andThen: (tx: ChainableCommander) => ChainableCommander = (tx) => tx,
): Promise<void> {
  const keys = [CACHE.taskList.generation(ids.projectId)];
  if (ids.taskId) keys.push(CACHE.task.generation(ids.taskId));
  const tx = redis.multi();
  for (const key of keys) tx.incr(key).expire(key, GENERATION_TTL_SECONDS);
  const results = await andThen(tx).exec();
  const failed = results?.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}
