import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { createPool } from 'mariadb';
import type { Pool } from 'mariadb';
import { PrismaClient } from '../generated/prisma/client';
import { mariadbOptions } from './url';

export type Db = PrismaClient & {
  /** The driver's pool under Prisma, for the statements Prisma would slow down (db/sql.ts). */
  readonly sql: Pool;
};

/** Prepared statements each connection keeps for reuse (see createDb). */
export const PREPARED_STATEMENTS_PER_CONNECTION = 32;

/**
 * The read model's Prisma client over the MariaDB driver adapter, on a pool of the driver's that
 * `db/sql.ts` also uses. Only the data-access layer (`db/`) and activities use them.
 */
export function createDb(
  databaseUrl: string,
  opts: { connectionLimit?: number; acquireTimeoutMs?: number } = {},
): Db {
  const pool = createPool({
    ...mariadbOptions(databaseUrl),
    connectionLimit: opts.connectionLimit ?? 10,
    // Every statement is a server-side prepared statement. Without a cache (the adapter's
    // default) each one is prepared, executed and closed: three commands where one does. The
    // driver keeps the most recently used ones per connection and closes one it drops as soon as
    // no query uses it, so a process holds at most connectionLimit × this many on the server
    // (test/db-prepared-statements.test.ts), far under MariaDB's max_prepared_stmt_count.
    prepareCacheLength: PREPARED_STATEMENTS_PER_CONNECTION,
    // Give up on an unreachable server before the readiness probe's two seconds, so no attempt
    // outlives the request that made it. Only a test's own pool, which no probe reads, waits
    // longer (test/support/db.ts).
    connectTimeout: 1000,
    acquireTimeout: opts.acquireTimeoutMs ?? 1500,
  });
  // The adapter declares the driver's types of its own (nested) copy, a minor release older;
  // it uses only the pool's and connections' documented calls, which both versions share.
  const adapter = new PrismaMariaDb(
    pool as unknown as ConstructorParameters<typeof PrismaMariaDb>[0],
  );
  const client = new PrismaClient({ adapter });
  return Object.assign(client, { sql: pool });
}

/** Closes Prisma and the driver's pool under it. */
export async function closeDb(db: Db): Promise<void> {
  await db.$disconnect();
  await db.sql.end();
}

/** Resolves when MySQL answers a trivial query. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
