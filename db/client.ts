import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { PrismaClient } from '../generated/prisma/client';
import { mariadbOptions } from './url';

export type Db = PrismaClient;

/**
 * The read model's Prisma client over the MariaDB driver adapter. Only the data-access layer
 * (`db/`) and activities use it.
 */
export function createDb(databaseUrl: string, opts: { connectionLimit?: number } = {}): Db {
  const adapter = new PrismaMariaDb({
    ...mariadbOptions(databaseUrl),
    connectionLimit: opts.connectionLimit ?? 10,
    // Give up on an unreachable server before the readiness probe's two seconds, so no attempt
    // outlives the request that made it.
    connectTimeout: 1000,
    acquireTimeout: 1500,
  });
  return new PrismaClient({ adapter });
}

/** Resolves when MySQL answers a trivial query. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
