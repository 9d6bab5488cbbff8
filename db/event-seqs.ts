import type { Db } from './client';
import type { SqlRunner } from './sql';

/**
 * Hands out the next `count` numbers of a project's event log, inside the transaction that
 * writes those events, and answers the first. The project's counter row stays locked until that
 * transaction ends, so the log's numbers are committed in order: while one transaction holds
 * N, the next cannot take N+1, and a reader that sees N+1 has seen N (docs/architecture.md,
 * "Events and cache"). Call it last, after every other lock the transaction takes, so that it
 * never waits for the counter while holding something the counter's holder wants.
 */
export async function nextEventSeqs(
  sql: SqlRunner,
  projectId: string,
  count: number,
): Promise<bigint> {
  // One statement takes the numbers and answers the last of them (LAST_INSERT_ID(expr)).
  const take = () =>
    sql.runForId(
      'UPDATE project_event_seqs SET lastSeq = LAST_INSERT_ID(lastSeq + ?) WHERE projectId = ?',
      [count, projectId],
    );
  let taken = await take();
  if (taken.changed === 0) {
    // The project's first event: its counter starts now.
    await sql.run('INSERT IGNORE INTO project_event_seqs (projectId, lastSeq) VALUES (?, 0)', [
      projectId,
    ]);
    taken = await take();
  }
  return taken.id - BigInt(count) + 1n;
}

/** The last `seq` committed in a project's event log (0 before its first event). */
export async function lastEventSeq(db: Db, projectId: string): Promise<number> {
  const row = await db.projectEventSeq.findUnique({ where: { projectId } });
  return row ? Number(row.lastSeq) : 0;
}
