import os from 'node:os';
import type { WorkerProbeResult } from '../contracts/probe';
import { pingDb } from '../db/client';
import type { ActivityDeps } from './deps';

/** Activities of the worker probe (contracts/probe.ts). */
export function createProbeActivities({ db, redis }: ActivityDeps) {
  return {
    /** Reports whether this worker reaches MySQL and Redis right now; never throws for a down service. */
    async probeDependencies(): Promise<WorkerProbeResult> {
      const state = (p: Promise<unknown>) =>
        p.then(
          () => 'up' as const,
          () => 'down' as const,
        );
      const [mysql, redisState] = await Promise.all([state(pingDb(db)), state(redis.ping())]);
      return {
        workerIdentity: `${process.pid}@${os.hostname()}`,
        mysql,
        redis: redisState,
        checkedAt: new Date().toISOString(),
      };
    },
  };
}
