// Measures task creation on the real stack (docs/performance.md, "Task creation"): bare starts of
// the task workflow against POST /api/tasks and POST /api/tasks/batch, in one run, on one server.
//
//   npm run bench:create               (defaults: 1000 tasks per way, 20 at once, batches of 1000)
//   BENCH_CREATE=200 BENCH_CONCURRENCY=10 BENCH_BATCH=100 npm run bench:create
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { ADMIN_ACTOR } from '../contracts/actor';
import { TASK_BATCH_MAX } from '../contracts/task';
import { taskWorkflowStart } from '../api/tasks/create';
import type { taskWorkflow } from '../workflows/task';
import { cpuSince, machine, pool, runBench, say } from './stack';

const COUNT = Number(process.env.BENCH_CREATE ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const BATCH = Math.min(TASK_BATCH_MAX, Number(process.env.BENCH_BATCH ?? TASK_BATCH_MAX));

runBench(
  async ({ temporal, worker, deps, http, apiUrl, token, onClose }) => {
    const connection = await Connection.connect({ address: temporal.address });
    onClose(() => connection.close());
    const client = new Client({ connection });
    say(machine());
    say(`${COUNT} tasks each way, ${CONCURRENCY} at once; batches of ${BATCH}`);

    let resent = 0;
    /**
     * Sends a creation until it is answered 201. A 503 (`timed_out` on a machine too busy to
     * answer within the deadline, `not_ready`) is sent again with the same `Idempotency-Key`, as
     * a client should: it creates nothing twice.
     */
    const create = async (path: string, body: unknown): Promise<void> => {
      const key = randomUUID();
      for (;;) {
        const res = await fetch(`${apiUrl}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify(body),
        });
        if (res.status === 201) return;
        if (res.status !== 503)
          throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
        resent += 1;
      }
    };
    const pids = { temporal: temporal.process.pid!, worker: worker.pid!, 'api+load': process.pid };
    /** Runs one way of creating `COUNT` tasks in a project of its own; answers tasks per second. */
    const measure = async (
      label: string,
      create: (projectId: string) => Promise<number>,
    ): Promise<number> => {
      const projectId: string = (await http.post('/api/projects', { name: label })).body.id;
      const spent = cpuSince(pids);
      const seconds = await create(projectId);
      const rate = COUNT / seconds;
      // Whatever the worker still has to do for these tasks is done before the next way starts.
      const started = performance.now();
      // (The API writes a task's row itself; its workflow's first projection sets version 1.)
      const projected = { projectId, version: { gt: 0 } };
      while ((await deps.db.task.count({ where: projected })) < COUNT) await sleep(50);
      const behind = (performance.now() - started) / 1000;
      await sleep(2000);
      const made = await deps.db.task.count({ where: { projectId } });
      if (made !== COUNT) throw new Error(`${label}: ${made} tasks made, not ${COUNT}`);
      const cpu = Object.entries(spent())
        .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`)
        .join(', ');
      const again = resent > 0 ? `; ${resent} answered 503 and sent again` : '';
      resent = 0;
      say(`${label}: ${rate.toFixed(1)} tasks/s (${seconds.toFixed(1)} s${again})`);
      if (behind > 0.1) {
        const allIn = COUNT / (seconds + behind);
        say(
          `  every task projected by its workflow ${behind.toFixed(1)} s later: ${allIn.toFixed(1)} tasks/s in all`,
        );
      }
      say(`  CPU seconds: ${cpu}`);
      return rate;
    };

    const bare = await measure('bare client.workflow.start(taskWorkflow)', (projectId) =>
      pool(COUNT, CONCURRENCY, async () => {
        const task = { projectId, title: 'bench', description: 'bench', priority: 0 };
        await client.workflow.start<typeof taskWorkflow>(
          'taskWorkflow',
          taskWorkflowStart(deps, randomUUID(), task, ADMIN_ACTOR),
        );
      }),
    );
    const single = await measure('POST /api/tasks', (projectId) =>
      pool(COUNT, CONCURRENCY, () =>
        create('/api/tasks', { projectId, title: 'bench', description: 'bench' }),
      ),
    );
    const batch = await measure('POST /api/tasks/batch', async (projectId) => {
      const started = performance.now();
      for (let from = 0; from < COUNT; from += BATCH) {
        const tasks = Array.from({ length: Math.min(BATCH, COUNT - from) }, (_, i) => ({
          title: `bench ${from + i}`,
          description: 'bench',
        }));
        await create('/api/tasks/batch', { projectId, tasks });
      }
      return (performance.now() - started) / 1000;
    });
    say(
      `ratio to bare starts: POST /api/tasks ${(single / bare).toFixed(2)}, batch ${(batch / bare).toFixed(2)}`,
    );
  },
  // The load generator is one token; its requests are not what is measured.
  {
    limits: {
      agentRequestsPerSecond: 10_000,
      agentConcurrentRequests: 1_000,
      authFailuresPerMinute: 100,
    },
  },
);
