import type { Redis } from 'ioredis';
import { pingDb } from '../../db/client';
import type { Db } from '../../db/client';
import { pingTemporal } from '../../platform/temporal';
import type { TemporalHandle } from '../../platform/temporal';
import { withTimeout } from '../../platform/with-timeout';

export type DependencyName = 'temporal' | 'mysql' | 'redis';
export type Readiness = Record<DependencyName, 'up' | 'down'>;

export interface ReadinessDeps {
  temporal: TemporalHandle;
  namespace: string;
  db: Db;
  redis: Redis;
}

const TIMEOUT_MS = 2000;

/** Asks Temporal, MySQL and Redis in parallel; each gets two seconds. */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const probe = async (p: () => Promise<unknown>, what: string) => {
    try {
      await withTimeout(p(), TIMEOUT_MS, what);
      return 'up' as const;
    } catch {
      return 'down' as const;
    }
  };
  const [temporal, mysql, redis] = await Promise.all([
    probe(() => pingTemporal(deps.temporal, deps.namespace, TIMEOUT_MS), 'temporal'),
    probe(() => pingDb(deps.db), 'mysql'),
    probe(() => deps.redis.ping(), 'redis'),
  ]);
  return { temporal, mysql, redis };
}
