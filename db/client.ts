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
    connectTimeout: 2000,
    acquireTimeout: 3000,
  });
  return new PrismaClient({ adapter });
}

/** Resolves when MySQL answers a trivial query. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
