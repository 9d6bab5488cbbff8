import { createDb } from '../../db/client';
import type { Db } from '../../db/client';
import { testConfig } from './api';

/**
 * A test's own read-model pool. Its first connection may wait behind a loaded suite longer than
 * the production pool's 1.5 s, which is sized for the readiness probe; a test that reads or seeds
 * rows is not testing that deadline, so it waits up to 20 s.
 */
export function openTestDb(connectionLimit?: number): Db {
  return createDb(testConfig().databaseUrl, { connectionLimit, acquireTimeoutMs: 20_000 });
}
