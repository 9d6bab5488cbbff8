import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;

/** Connection settings for the mariadb driver, from a `mysql://` or `mariadb://` URL. */
export function mariadbOptions(databaseUrl: string) {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: database || undefined,
  };
}

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
