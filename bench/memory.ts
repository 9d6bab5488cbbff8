// Measures what thousands of tasks waiting on questions cost the production processes
// (docs/performance.md, "Memory"): the compiled worker's and API's memory (RSS) and CPU while
// idle, and how fast a task evicted from the worker's workflow cache resumes (its history
// replayed) when its answer comes.
//
//   npm run build && npm run bench:memory          (5,000 waiting tasks, the default cache size)
//   BENCH_IDLE=1000 BENCH_CACHE=100 npm run bench:memory
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { askQuestionUpdate, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { loadConfig } from '../platform/config';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from '../test/support/agents';
import { ApiProcess } from '../test/support/api-process';
import { apiClient } from '../test/support/http';
import { cpuSince, machine, p50p99, pool, rssMiB, runBench, say } from './stack';

const IDLE = Number(process.env.BENCH_IDLE ?? 5000);
const CACHE = process.env.BENCH_CACHE ?? String(loadConfig(process.env).maxCachedWorkflows);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const RESUMES = Number(process.env.BENCH_RESUMES ?? 200);

/** The share of one core each process uses over `ms` of doing nothing. */
async function idleCpu(pids: Record<string, number>, ms: number): Promise<string> {
  const spent = cpuSince(pids);
  await new Promise((r) => setTimeout(r, ms));
  return Object.entries(spent())
    .map(([k, seconds]) => `${k} ${((100 * seconds) / (ms / 1000)).toFixed(1)}%`)
    .join(', ');
}

runBench(
  async ({ temporal, worker, taskQueue, databaseUrl, deps, onClose }) => {
    say(machine());
    say(`worker: compiled, AIWORKER_MAX_CACHED_WORKFLOWS=${CACHE}`);
    const token = randomBytes(24).toString('hex');
    const api = new ApiProcess(
      {
        TEMPORAL_ADDRESS: temporal.address,
        DATABASE_URL: databaseUrl,
        TEMPORAL_TASK_QUEUE: taskQueue,
        AIWORKER_ADMIN_TOKEN: token,
      },
      { compiled: true },
    );
    await api.start();
    onClose(() => api.stop());
    const http = apiClient(api.url, token);
    const connection = await Connection.connect({ address: temporal.address });
    onClose(() => connection.close());
    const client = new Client({ connection });
    const agentId = await registerTestAgent(deps.db, 'bench');
    const projectId: string = (await http.post('/api/projects', { name: 'memory' })).body.id;

    /** A task created through the API, taken by the agent, waiting on its question. */
    const waitingTask = async (): Promise<string> => {
      let res = await http.post('/api/tasks', { projectId, title: 'idle', description: 'idle' });
      // A create the API could not finish in time under this load is asked again (the benchmark
      // counts memory, not tasks: a duplicate is one more waiting task).
      for (let retry = 0; res.status !== 201 && res.body?.error?.retryable && retry < 5; retry++) {
        await new Promise((r) => setTimeout(r, 1000 * (res.body.error.retryAfterSeconds ?? 1)));
        res = await http.post('/api/tasks', { projectId, title: 'idle', description: 'idle' });
      }
      if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
      const handle = client.workflow.getHandle(taskWorkflowId(res.body.taskId));
      await executeTaskUpdate(handle, claimTaskUpdate, { agentId });
      await executeTaskUpdate(handle, askQuestionUpdate, {
        agentId,
        questionId: randomUUID(),
        question: 'q',
      });
      return res.body.taskId as string;
    };

    const pids = { worker: worker.pid!, api: api.pid!, temporal: temporal.process.pid! };
    const rss = () =>
      Object.entries(pids)
        .map(([k, pid]) => `${k} ${rssMiB(pid)} MiB`)
        .join(', ');
    await pool(20, CONCURRENCY, async () => void (await waitingTask()));
    await new Promise((r) => setTimeout(r, 5000));
    say(`RSS with 20 tasks waiting: ${rss()}`);

    const ids: string[] = [];
    let failed = 0;
    const seconds = await pool(IDLE, CONCURRENCY, async () => {
      // On a loaded machine a step can time out; the benchmark counts memory, not tasks.
      await waitingTask().then(
        (id) => ids.push(id),
        () => failed++,
      );
    });
    // The board's first page of the project, as a person opening it would load it.
    await http.get(`/api/tasks?projectId=${projectId}&state=needs_input`);
    await new Promise((r) => setTimeout(r, 10_000));
    say(
      `${ids.length} more tasks waiting on questions (set up in ${seconds.toFixed(0)} s; ${failed} set-ups failed)`,
    );
    say(`RSS with ${ids.length + 20} tasks waiting: ${rss()}`);
    say(`CPU while idle (30 s): ${await idleCpu(pids, 30_000)}`);

    // Answers to the oldest tasks (evicted from the cache when it is smaller than the backlog:
    // their history is replayed first) and to the newest (still cached).
    const answer = async (taskId: string) => {
      const t0 = performance.now();
      const res = await http.post(`/api/tasks/${taskId}/respond`, { answer: 'a' });
      if (res.status !== 200) throw new Error(`respond failed: ${JSON.stringify(res.body)}`);
      return performance.now() - t0;
    };
    const resumes = Math.min(RESUMES, Math.floor(ids.length / 2));
    const oldest: number[] = [];
    for (const id of ids.slice(0, resumes)) oldest.push(await answer(id));
    const newest: number[] = [];
    for (const id of ids.slice(-resumes)) newest.push(await answer(id));
    say(`answer to an evicted (oldest) task, one at a time: ${p50p99(oldest)} (${resumes})`);
    say(`answer to a cached (newest) task, one at a time: ${p50p99(newest)} (${resumes})`);
    say(`RSS after the answers: ${rss()}`);
  },
  {},
  { compiled: true, env: { AIWORKER_MAX_CACHED_WORKFLOWS: CACHE } },
);
