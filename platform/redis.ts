import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * One Redis connection for the process. Commands fail at once while Redis is unreachable
 * (no offline queue), so callers can fall back or report instead of hanging; the client keeps
 * reconnecting in the background and recovers by itself when Redis is back.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2000),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, 'redis unreachable; retrying');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis reachable again');
    down = false;
  });
  return redis;
}

/**
 * Resolves once the connection is ready, or after `withinMs` if it is not (Redis away: the
 * process runs degraded, as during any outage). A process that takes requests before its first
 * connection is up would refuse them for that moment, since commands are not queued.
 */
export async function redisReady(redis: Redis, withinMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    redis.once('ready', done);
  });
}
