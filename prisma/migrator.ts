import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import mariadb from 'mariadb';
import type { Connection } from 'mariadb';
import { mariadbOptions } from '../db/url';
import { MigrationError } from '../platform/errors';

/**
 * Applies the hand-written migrations under prisma/migrations and keeps Prisma's own
 * `_prisma_migrations` bookkeeping (same table, sha256 checksums, advisory lock), so a machine
 * that has Prisma's native schema engine can still run `prisma migrate status` / `deploy`.
 */

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

const BOOKKEEPING_TABLE = `CREATE TABLE IF NOT EXISTS \`_prisma_migrations\` (
    \`id\` VARCHAR(36) NOT NULL,
    \`checksum\` VARCHAR(64) NOT NULL,
    \`finished_at\` DATETIME(3) NULL,
    \`migration_name\` VARCHAR(255) NOT NULL,
    \`logs\` TEXT NULL,
    \`rolled_back_at\` DATETIME(3) NULL,
    \`started_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    \`applied_steps_count\` INTEGER UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (\`id\`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** What a run did: the migrations it applied and those that were already there. */
export interface MigrationReport {
  database: string;
  applied: string[];
  alreadyApplied: string[];
}

/** The migration folders in the order Prisma applies them (lexical, timestamp first). */
export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Creates the database named in `databaseUrl` if needed and applies every pending migration.
 * Safe to run again and concurrently (the second runner waits on the lock, then finds nothing to do).
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrationReport> {
  const { database, ...server } = mariadbOptions(databaseUrl);
  if (!database) throw new MigrationError('DATABASE_URL names no database (expected …/<database>)');
  const conn = await mariadb.createConnection({
    ...server,
    multipleStatements: true,
    connectTimeout: 5000,
  });
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database.replace(/`/g, '``')}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    await conn.query(`USE \`${database.replace(/`/g, '``')}\``);
    const [lock] = await conn.query<Array<{ got: number | bigint | null }>>(
      "SELECT GET_LOCK('prisma_migrate', 10) AS got",
    );
    if (Number(lock?.got) !== 1) {
      throw new MigrationError(
        'another migration run holds the prisma_migrate lock; try again when it has finished',
      );
    }
    try {
      return { database, ...(await applyPending(conn, readMigrations(dir))) };
    } finally {
      await conn.query("SELECT RELEASE_LOCK('prisma_migrate')");
    }
  } finally {
    await conn.end();
  }
}

async function applyPending(conn: Connection, files: MigrationFile[]) {
  await conn.query(BOOKKEEPING_TABLE);
  const rows = await conn.query<AppliedRow[]>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at',
  );
  const known = new Set(files.map((f) => f.name));
  const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
  if (failed) {
    throw new MigrationError(
      `migration ${failed.migration_name} failed earlier and was not resolved; fix the database, then mark it with ` +
        `\`prisma migrate resolve\` or delete its row from _prisma_migrations`,
    );
  }
  const unknown = rows.filter((r) => r.finished_at !== null && !known.has(r.migration_name));
  if (unknown.length > 0) {
    throw new MigrationError(
      `the database has migrations that are not in prisma/migrations: ${unknown.map((r) => r.migration_name).join(', ')}`,
    );
  }
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  for (const file of files) {
    const done = rows.find((r) => r.migration_name === file.name && r.finished_at !== null);
    if (done) {
      if (done.checksum !== file.checksum) {
        throw new MigrationError(
          `migration ${file.name} was changed after it was applied (checksum differs); add a new migration instead`,
        );
      }
      alreadyApplied.push(file.name);
      continue;
    }
    await applyOne(conn, file);
    applied.push(file.name);
  }
  return { applied, alreadyApplied };
}

async function applyOne(conn: Connection, file: MigrationFile): Promise<void> {
  const id = randomUUID();
  await conn.query(
    'INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, NOW(3), 0)',
    [id, file.checksum, file.name],
  );
  try {
    await conn.query(file.sql);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await conn.query('UPDATE _prisma_migrations SET logs = ? WHERE id = ?', [message, id]);
    throw new MigrationError(`migration ${file.name} failed: ${message}`);
  }
  await conn.query(
    'UPDATE _prisma_migrations SET finished_at = NOW(3), applied_steps_count = 1 WHERE id = ?',
    [id],
  );
}
