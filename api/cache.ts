import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger';

/**
 * Read-through cache over Redis for the read model. Each value is stored with the generation
 * counter it was read under; writers bump the counter after they commit (platform/cache-keys.ts),
 * so a value read before a write is never served after it — not even one a slow reader stores
 * late. When Redis is unreachable every read goes to MySQL.
 */
export class ReadCache {
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  async read<T>(
    entry: { key: string; generation: string; ttlSeconds: number },
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    let generation: string | null = null;
    let reachable = true;
    try {
      const [cached, current] = await this.redis.mget(entry.key, entry.generation);
      generation = current ?? null;
      if (cached) {
        const parsed = JSON.parse(cached) as { generation: string | null; value: T };
        if (parsed.generation === generation) return parsed.value;
      }
    } catch (err) {
      reachable = false;
      this.logger.debug({ err: (err as Error).message }, 'cache unreachable; reading MySQL');
    }
    const value = await load();
    if (reachable && value !== undefined) {
      this.redis
        .set(entry.key, JSON.stringify({ generation, value }), 'EX', entry.ttlSeconds)
        .catch((err: Error) => this.logger.debug({ err: err.message }, 'cache write skipped'));
    }
    return value;
  }
}
