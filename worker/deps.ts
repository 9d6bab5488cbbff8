import { Emitter } from '@socket.io/redis-emitter';
import type { ActivityDeps } from '../activities';
import { createDb } from '../db/client';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import { createRedis } from '../platform/redis';

/** The connections a worker's activities use, created once; `close` ends them. */
export function createWorkerDeps(
  config: Pick<Config, 'databaseUrl' | 'redisUrl'>,
  root: Logger,
): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl, root.child({ scope: 'worker.redis' }));
  return {
    db,
    redis,
    emitter: new Emitter(redis),
    logger: root.child({ scope: 'activities' }),
    async close() {
      await db.$disconnect();
      redis.disconnect();
    },
  };
}
