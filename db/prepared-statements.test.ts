import { closeDb, PREPARED_STATEMENTS_PER_CONNECTION } from './client';
import { openTestDb } from '../test/support/db';
import type { Db } from './client';

/**
 * The read model's connections reuse prepared statements, and never hold more than their cache
 * on the server however many different statements they run (MariaDB refuses new ones past
 * max_prepared_stmt_count, for every client of the server).
 */
describe('prepared statements', () => {
  let db: Db;

  beforeAll(() => {
    // One connection: the session's counters are then this client's.
    db = openTestDb(1);
  });
  afterAll(async () => {
    await closeDb(db);
  });

  const counters = async (): Promise<{ prepared: number; closed: number; executed: number }> => {
    const rows = await db.$queryRawUnsafe<Array<{ Variable_name: string; Value: string }>>(
      "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_close', 'Com_stmt_execute')",
    );
    const value = (name: string) => Number(rows.find((r) => r.Variable_name === name)?.Value);
    return {
      prepared: value('Com_stmt_prepare'),
      closed: value('Com_stmt_close'),
      executed: value('Com_stmt_execute'),
    };
  };

  it('prepares a statement once and runs it again without preparing it', async () => {
    await counters();
    const before = await counters();
    for (let i = 0; i < 50; i += 1) {
      const [row] = await db.$queryRaw<Array<{ n: bigint }>>`SELECT ${i} + 1 AS n`;
      expect(Number(row!.n)).toBe(i + 1);
    }
    const after = await counters();
    // The loop's statement at most once, and the counters' own statement is already cached.
    expect(after.prepared - before.prepared).toBeLessThanOrEqual(1);
    expect(after.executed - before.executed).toBe(51);
  });

  it('closes the statements it drops, so the server holds at most its cache', async () => {
    const distinct = PREPARED_STATEMENTS_PER_CONNECTION * 6;
    for (let i = 0; i < distinct; i += 1) {
      await db.$queryRawUnsafe(`SELECT ${i} AS n${i}`);
    }
    // The first reading's own statement is new: it is open while it runs, and pushes the oldest
    // one out. The second finds it cached and sees what stays open.
    await counters();
    const { prepared, closed } = await counters();
    expect(prepared).toBeGreaterThan(distinct);
    expect(prepared - closed).toBeLessThanOrEqual(PREPARED_STATEMENTS_PER_CONNECTION);
  });
});
