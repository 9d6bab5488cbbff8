import { readFileSync } from 'node:fs';
import type { Connection } from 'mariadb';
import { connect, dropDatabase, scratchDatabaseUrl } from '../test/support/scratch-db';
import { migrate } from './migrator';
import { actualShape, diffShapes, expectedShape, SCHEMA_FILE } from './schema-drift';

describe('prisma/schema.prisma and the migrations', () => {
  it('describe the same database: every table, column, type, index and relation', async () => {
    const conn = await connect(process.env.DATABASE_URL!);
    try {
      expect(diffShapes(expectedShape(), await actualShape(conn))).toEqual([]);
    } finally {
      await conn.end();
    }
  });
});

describe('the drift check', () => {
  let url: string;
  let conn: Connection;

  beforeAll(async () => {
    url = scratchDatabaseUrl('drift');
    await migrate(url);
    conn = await connect(url);
  });
  afterAll(async () => {
    await conn.end();
    await dropDatabase(url);
  });

  it('reports what a migration left out or added, on either side', async () => {
    await conn.query('ALTER TABLE task_questions DROP COLUMN answeredAt');
    await conn.query('ALTER TABLE tasks MODIFY title VARCHAR(100) NOT NULL');
    await conn.query('ALTER TABLE agents MODIFY lastSeenAt DATETIME(3) NOT NULL');
    await conn.query(
      'ALTER TABLE tasks DROP INDEX tasks_assignedAgentId_idx, DROP FOREIGN KEY tasks_assignedAgentId_fkey',
    );
    await conn.query(
      'ALTER TABLE projects ADD COLUMN extra INT NULL, ADD INDEX projects_extra_idx (extra)',
    );
    await conn.query('CREATE TABLE stray (id INT PRIMARY KEY)');

    const diffs = diffShapes(expectedShape(), await actualShape(conn));
    expect(diffs).toEqual(
      expect.arrayContaining([
        'column task_questions.answeredAt is in the schema but not in the database',
        'column tasks.title: schema says varchar(200) NOT NULL, database has varchar(100) NOT NULL',
        'column agents.lastSeenAt: schema says datetime(3) NULL, database has datetime(3) NOT NULL',
        'index on tasks tasks_assignedAgentId_idx is in the schema but not in the database',
        'foreign key on tasks tasks_assignedAgentId_fkey is in the schema but not in the database',
        'column projects.extra is in the database but not in the schema',
        'index on projects projects_extra_idx is in the database but not in the schema',
        'table stray is in the database but not in the schema',
      ]),
    );
    expect(diffs).toHaveLength(8);
  });

  it('reports a schema change that has no migration', async () => {
    const schema = readFileSync(SCHEMA_FILE, 'utf8')
      .replace(
        '  lastSeenAt DateTime? @db.DateTime(3)\n',
        '  lastSeenAt DateTime? @db.DateTime(3)\n  note String?\n',
      )
      .replace('onDelete: SetNull)', 'onDelete: Restrict)');
    const fresh = await connect(process.env.DATABASE_URL!);
    try {
      const diffs = diffShapes(expectedShape(schema), await actualShape(fresh));
      expect(diffs).toContain('column agents.note is in the schema but not in the database');
      expect(
        diffs.some((d) => d.startsWith('foreign key on tasks tasks_assignedAgentId_fkey: schema')),
      ).toBe(true);
    } finally {
      await fresh.end();
    }
  });
});
