import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MigrationError } from '../platform/errors';
import { connect, dropDatabase, scratchDatabaseUrl } from '../test/support/scratch-db';
import { migrate, MIGRATIONS_DIR } from './migrator';

/** A copy of the real migrations in a temporary folder, so a test can add broken ones. */
function migrationsCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-migrations-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

/** Every migration of the project, in the order they apply. */
const ALL = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const checksum = (name: string) =>
  createHash('sha256')
    .update(readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql')))
    .digest('hex');

function addMigration(dir: string, name: string, sql: string): void {
  mkdirSync(path.join(dir, name));
  writeFileSync(path.join(dir, name, 'migration.sql'), sql);
}

async function bookkeeping(url: string) {
  const conn = await connect(url);
  try {
    return await conn.query<
      Array<{
        migration_name: string;
        checksum: string;
        finished_at: Date | null;
        logs: string | null;
        applied_steps_count: number;
      }>
    >(
      'SELECT migration_name, checksum, finished_at, logs, applied_steps_count FROM _prisma_migrations ORDER BY started_at, migration_name',
    );
  } finally {
    await conn.end();
  }
}

describe('the migration runner', () => {
  const urls: string[] = [];
  const fresh = (tag: string) => {
    const url = scratchDatabaseUrl(tag);
    urls.push(url);
    return url;
  };
  afterAll(async () => {
    await Promise.all(urls.map(dropDatabase));
  });

  it("creates the database and keeps Prisma's _prisma_migrations bookkeeping", async () => {
    const url = fresh('mig');
    const report = await migrate(url);
    expect(report.applied).toEqual(ALL);
    const rows = await bookkeeping(url);
    expect(rows).toEqual(
      ALL.map((name) =>
        expect.objectContaining({
          migration_name: name,
          checksum: checksum(name),
          logs: null,
          applied_steps_count: 1,
        }),
      ),
    );
    for (const row of rows) expect(row.finished_at).toBeInstanceOf(Date);
  });

  it('is a quick no-op the second time, and two runs at once apply each migration once', async () => {
    const url = fresh('twice');
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(ALL);
    const again = await migrate(url);
    expect(again).toMatchObject({ applied: [], alreadyApplied: ALL });
    expect(await bookkeeping(url)).toHaveLength(ALL.length);
  });

  it('records a failing migration like Prisma does and refuses to go on until it is resolved', async () => {
    const url = fresh('fail');
    const dir = migrationsCopy();
    addMigration(
      dir,
      '20261124000001_broken',
      'ALTER TABLE tasks ADD COLUMN nope INT;\nALTER TABLE no_such_table ADD COLUMN x INT;\n',
    );
    await expect(migrate(url, dir)).rejects.toThrow(
      /20261124000001_broken failed: .*no_such_table/,
    );
    const rows = await bookkeeping(url);
    expect(rows[1]).toMatchObject({
      migration_name: '20261124000001_broken',
      finished_at: null,
      applied_steps_count: 0,
    });
    expect(rows[1]!.logs).toContain('no_such_table');
    await expect(migrate(url, dir)).rejects.toThrow(/failed earlier and was not resolved/);
  });

  it('refuses a migration whose file changed after it was applied', async () => {
    const url = fresh('edit');
    const dir = migrationsCopy();
    await migrate(url, dir);
    const file = path.join(dir, '20261124000000_init', 'migration.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited\n`);
    const run = migrate(url, dir);
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(/20261124000000_init was changed after it was applied/);
  });

  it('refuses a database that has migrations this checkout does not know', async () => {
    const url = fresh('ahead');
    const dir = migrationsCopy();
    addMigration(dir, '20261124000002_newer', 'CREATE TABLE newer (id INT PRIMARY KEY);');
    await migrate(url, dir);
    await expect(migrate(url)).rejects.toThrow(/not in prisma\/migrations: 20261124000002_newer/);
  });
});
