import { randomBytes } from 'node:crypto';
import mariadb from 'mariadb';
import type { Connection } from 'mariadb';
import { mariadbOptions } from '../../db/url';

/** A database URL beside the run's database, for tests that need a database of their own. */
export function scratchDatabaseUrl(tag: string): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `${url.pathname}_${tag}_${randomBytes(3).toString('hex')}`;
  return url.toString();
}

/** A plain driver connection to the database in `url` (it must exist). */
export async function connect(url: string): Promise<Connection> {
  return await mariadb.createConnection({ ...mariadbOptions(url), multipleStatements: true });
}

export async function dropDatabase(url: string): Promise<void> {
  const { database, ...server } = mariadbOptions(url);
  const conn = await mariadb.createConnection(server);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}
