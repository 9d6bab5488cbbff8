import { closeDb, createDb } from '../db/client';
import { inDriverTransaction } from '../db/sql';
import { claimCandidates } from '../db/tasks';
import { unreachableDependency } from './failures';

/** What a failure says is away decides 503 (REST) or `unavailable` (MCP) against a 500. */
describe('unreachableDependency', () => {
  const away = createDb('mysql://root@127.0.0.1:1/nothing');
  afterAll(async () => {
    await closeDb(away);
  });

  const failureOf = (work: Promise<unknown>) =>
    work.then(
      () => {
        throw new Error('expected the database to be unreachable');
      },
      (err: unknown) => err,
    );

  it('names the database for statements sent through Prisma and through its driver', async () => {
    const failures = {
      prisma: await failureOf(away.task.count()),
      driverTransaction: await failureOf(
        inDriverTransaction(away, (sql) => sql.rows('SELECT 1', [])),
      ),
      driverQuery: await failureOf(
        claimCandidates(away, { agentId: 'a', projectIds: null, limit: 1 }),
      ),
    };
    expect(
      Object.fromEntries(Object.entries(failures).map(([k, e]) => [k, unreachableDependency(e)])),
    ).toEqual({
      prisma: 'the database',
      driverTransaction: 'the database',
      driverQuery: 'the database',
    });
  });

  it('names the database for a request still waiting for a connection as the pool closes', async () => {
    const closing = createDb(process.env.DATABASE_URL!, { connectionLimit: 1 });
    // The pool's one connection is taken: the next statements wait for it.
    const held = await closing.sql.getConnection();
    const waiting = {
      prisma: failureOf(closing.task.count()),
      driverQuery: failureOf(
        claimCandidates(closing, { agentId: 'a', projectIds: null, limit: 1 }),
      ),
    };
    const ended = closing.sql.end();
    const failures = { prisma: await waiting.prisma, driverQuery: await waiting.driverQuery };
    await held.release();
    await ended;
    await closing.$disconnect();
    expect(
      Object.fromEntries(Object.entries(failures).map(([k, e]) => [k, unreachableDependency(e)])),
    ).toEqual({ prisma: 'the database', driverQuery: 'the database' });
  });

  it('blames nothing for an error of the request itself', () => {
    const zlib = Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR' });
    expect(unreachableDependency(zlib)).toBeNull();
    expect(unreachableDependency(new URIError('URI malformed'))).toBeNull();
  });
});
