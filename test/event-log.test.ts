import { randomUUID } from 'node:crypto';
import { createProjectionActivities } from '../activities/projection';
import { SYSTEM_ACTOR } from '../contracts/actor';
import type { RecordedEvent } from '../contracts/events';
import { newTaskView } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import { closeDb } from '../db/client';
import { openTestDb } from './support/db';
import type { Db } from '../db/client';
import { applyTaskChange, eventsAfter } from '../db/tasks';
import { createLogger } from '../platform/logger';
import { createWorkerDeps } from '../worker/deps';
import { startTestApi, testConfig } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';

/** A task in progress, as its projection is handed it. */
const view = (projectId: string, id: string): TaskView => ({
  ...newTaskView(
    {
      task: { id, projectId, title: `task ${id}`, description: 'd', priority: 0 },
      reminderAfterMs: 0,
      leaseMs: 0,
    },
    new Date(),
  ),
  state: 'in_progress',
});

const progress = (taskId: string, taskSeq: number): RecordedEvent<'task:progress'> => ({
  taskSeq,
  type: 'task:progress',
  payload: { taskId, agentId: 'a', message: `step ${taskSeq}` },
  at: new Date().toISOString(),
  actor: SYSTEM_ACTOR,
});

/**
 * Runs `op` again when MariaDB or the pool gives up on it (a deadlock victim, a write conflict, no
 * connection in time on a loaded machine), as the projection activity is retried.
 */
async function retried<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= 20 || !/deadlock|write conflict|pool timeout/i.test(String(err))) throw err;
    }
  }
}

/**
 * Projects `tasks` tasks of one project, `steps` changes each (one event per change), with
 * `parallel` tasks projecting at once, as workers' projection activities do.
 */
async function projectInParallel(
  project: (change: {
    view: TaskView;
    version: number;
    events: RecordedEvent[];
  }) => Promise<unknown>,
  projectId: string,
  opts: { tasks: number; steps: number; parallel: number },
): Promise<void> {
  const queue = Array.from({ length: opts.tasks }, () => randomUUID());
  await Promise.all(
    Array.from({ length: opts.parallel }, async () => {
      for (let taskId = queue.pop(); taskId; taskId = queue.pop()) {
        for (let step = 1; step <= opts.steps; step += 1) {
          const change = {
            view: view(projectId, taskId),
            version: step,
            events: [progress(taskId, step)],
          };
          await retried(() => project(change));
        }
      }
    }),
  );
}

/**
 * The project's event log under parallel projections: a reader never sees seq N+1 before N, so
 * catching up from the last seq read misses nothing. (With the row id as the position, as before
 * the migration 20261206000000_project_event_seq, a reader could see a later id committed before
 * an earlier one and skip it for good: that is what stalled live boards after a reconnect.)
 */
describe("a project's event log under parallel projections", () => {
  let db: Db;
  let api: TestApi;
  // Set when the writers fail or the test ends: readers stop rather than read on past its end.
  let abandoned = false;

  beforeAll(async () => {
    db = openTestDb(24);
    api = await startTestApi();
  });
  afterAll(async () => {
    abandoned = true;
    await api.close();
    await closeDb(db);
  });

  const newProject = async () => {
    const id = randomUUID();
    await db.project.create({ data: { id, name: `event-log-${id}` } });
    return id;
  };

  it('hands readers that catch up continuously every event once, in order, over 2,000 events', async () => {
    const projectId = await newProject();
    const total = 100 * 20;
    let done = false;
    const readers = Array.from({ length: 3 }, async () => {
      const seen: number[] = [];
      let after = 0;
      // The same reading by row id, the old position, for the figures: what it never saw.
      const byId = new Set<bigint>();
      let lastId = 0n;
      while ((!done || seen.length < total) && !abandoned) {
        const page = await retried(() => eventsAfter(db, projectId, after, 500));
        for (const e of page) {
          seen.push(e.seq);
          after = e.seq;
        }
        const rows = await retried(() =>
          db.taskEvent.findMany({
            where: { projectId, id: { gt: lastId } },
            orderBy: { id: 'asc' },
            select: { id: true },
            take: 500,
          }),
        );
        for (const r of rows) {
          byId.add(r.id);
          lastId = r.id;
        }
        if (page.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
      return { seen, missedById: total - byId.size };
    });
    try {
      await projectInParallel((c) => applyTaskChange(db, c), projectId, {
        tasks: 100,
        steps: 20,
        parallel: 16,
      });
    } catch (err) {
      abandoned = true;
      await Promise.allSettled(readers);
      throw err;
    }
    done = true;
    const results = await Promise.all(readers);
    const first = results[0]!.seen[0]!;
    const expected = Array.from({ length: total }, (_, i) => first + i);
    for (const { seen } of results) expect(seen).toEqual(expected);
    console.log(
      `event log: ${total} events, 16 projecting at once, 3 readers: 0 missed by seq; ` +
        `read by row id, they would have missed ${results.map((r) => r.missedById).join(', ')}`,
    );
    // About 20 s alone on two cores, several times that beside the rest of the suite.
  }, 300_000);

  it('gets every event to a live board that keeps losing its connection', async () => {
    const deps = createWorkerDeps(testConfig(), createLogger({ logLevel: 'silent' }));
    const { projectTaskChange } = createProjectionActivities(deps);
    const projectId = await newProject();
    const board = await TestBoard.connect(api.url, api.adminToken);
    try {
      await board.subscribe(projectId);
      let dropping = true;
      const drops = (async () => {
        while (dropping) {
          await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
          // Only an open connection is dropped: closing one that is still being opened can
          // leave the client without a reconnection.
          if (board.socket.connected) board.socket.io.engine.close();
        }
      })();
      await projectInParallel((c) => projectTaskChange({ ...c, publish: true }), projectId, {
        tasks: 100,
        steps: 10,
        parallel: 12,
      });
      dropping = false;
      await drops;
      const expectedCount = 100 * 10;
      const deadline = Date.now() + 30_000;
      while (board.events.length < expectedCount && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const seqs = board.events.map((e) => e.seq).sort((a, b) => a - b);
      expect(seqs).toHaveLength(expectedCount);
      expect(new Set(seqs).size).toBe(expectedCount);
      expect(seqs.at(-1)! - seqs[0]!).toBe(expectedCount - 1);
      expect(board.disconnects.length).toBeGreaterThan(0);
    } finally {
      board.close();
      await deps.close();
    }
  }, 300_000);
});
