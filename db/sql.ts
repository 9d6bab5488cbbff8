import type { PoolConnection } from 'mariadb';
import type { Prisma } from '../generated/prisma/client';
import type { Db } from './client';

/**
 * Statements with `?` placeholders, run in one transaction either by Prisma or by the driver
 * itself (`inDriverTransaction`), so a step such as numbering events is written once for both.
 */
export interface SqlRunner {
  /** The rows a query answers. */
  rows<T>(sql: string, values: unknown[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, values: unknown[]): Promise<number>;
  /**
   * Runs a statement that sets `LAST_INSERT_ID(expr)`; answers how many rows it changed and
   * that value (MySQL returns it with the statement's result: no second statement to read it).
   */
  runForId(sql: string, values: unknown[]): Promise<{ changed: number; id: bigint }>;
}

/** A Prisma transaction as a runner. */
export function prismaRunner(tx: Prisma.TransactionClient | Db): SqlRunner {
  return {
    rows: (sql, values) => tx.$queryRawUnsafe(sql, ...values),
    run: (sql, values) => tx.$executeRawUnsafe(sql, ...values),
    // Prisma answers a count only: the value is read back on the transaction's connection.
    runForId: async (sql, values) => {
      const changed = await tx.$executeRawUnsafe(sql, ...values);
      const [row] = await tx.$queryRawUnsafe<Array<{ id: bigint | number }>>(
        'SELECT LAST_INSERT_ID() AS id',
      );
      return { changed, id: BigInt(row!.id) };
    },
  };
}

function driverRunner(conn: PoolConnection): SqlRunner {
  return {
    rows: <T>(sql: string, values: unknown[]) => conn.execute<T[]>(sql, values),
    run: async (sql, values) =>
      Number((await conn.execute<{ affectedRows: number }>(sql, values)).affectedRows),
    runForId: async (sql, values) => {
      const ok = await conn.execute<{ affectedRows: number; insertId: bigint | number }>(
        sql,
        values,
      );
      return { changed: Number(ok.affectedRows), id: BigInt(ok.insertId) };
    },
  };
}

/**
 * Runs `work` in one read-committed transaction on a connection of the driver's pool under
 * Prisma, committed if it resolves and rolled back if it throws. For the read model's hottest
 * writes (a new task's rows, every task change's projection): Prisma's interactive transaction
 * costs about four times the CPU of the same statements sent by the driver
 * (docs/performance.md).
 */
export async function inDriverTransaction<T>(
  db: Db,
  work: (sql: SqlRunner) => Promise<T>,
): Promise<T> {
  const conn = await db.sql.getConnection();
  try {
    await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    try {
      const result = await work(driverRunner(conn));
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    }
  } finally {
    await conn.release();
  }
}

/** A `DATETIME(3)` value as the read model stores it: UTC, as Prisma writes it. */
export function sqlDateTime(at: Date | string): string {
  return new Date(at).toISOString().slice(0, 23).replace('T', ' ');
}

/** A `DATETIME(3)` the driver read as text (`dateStrings`): the UTC time Prisma wrote. */
export function storedTime(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}

/** `(?, ?, …), (?, ?, …)` for `rows` rows of `columns` values each. */
export function placeholders(rows: number, columns: number): string {
  const row = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}
