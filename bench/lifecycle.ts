// Measures the task lifecycle on the real stack (README "Figures"): task creation rate against
// bare workflow starts, answer → socket event latency, and the idle memory of the worker and the
// Temporal server with thousands of tasks waiting on questions.
//
//   npm run bench:lifecycle            (defaults: 1000 creations, 500 answers, 5000 waiting tasks)
//   BENCH_CREATE=200 BENCH_ANSWERS=100 BENCH_IDLE=500 npm run bench:lifecycle
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { askQuestionUpdate, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from '../test/support/agents';
import { TestBoard } from '../test/support/board';
import { machine, percentile, pool, runBench, say } from './stack';

const CREATE = Number(process.env.BENCH_CREATE ?? 1000);
const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 500);
const IDLE = Number(process.env.BENCH_IDLE ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

runBench(async ({ temporal, worker, taskQueue, deps, apiUrl, token, http, onClose }) => {
  const agent = await registerTestAgent(deps.db, 'bench');
  const projectId: string = (await http.post('/api/projects', { name: 'bench' })).body.id;

  say(machine());

  // 1. Creation: POST /api/tasks (workflow started + first projection in MySQL) vs bare starts.
  const createdIds: string[] = [];
  const apiSeconds = await pool(CREATE, CONCURRENCY, async () => {
    const res = await http.post('/api/tasks', { projectId, title: 'bench', description: 'bench' });
    if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
    createdIds.push(res.body.taskId);
  });
  const connection = await Connection.connect({ address: temporal.address });
  onClose(() => connection.close());
  const client = new Client({ connection });
  const bareSeconds = await pool(CREATE, CONCURRENCY, async (i) => {
    await client.workflow.start('benchEmptyWorkflow', {
      taskQueue: `${taskQueue}-nobody`,
      workflowId: `empty-${i}-${randomUUID()}`,
    });
  });
  const apiRate = CREATE / apiSeconds;
  const bareRate = CREATE / bareSeconds;
  say(
    `creation: ${apiRate.toFixed(0)} POST /api/tasks per second (${CREATE} tasks, ${CONCURRENCY} concurrent clients)`,
  );
  say(
    `creation: ${bareRate.toFixed(0)} bare client.workflow.start per second (empty workflow, same server)`,
  );
  say(`creation: ratio ${(apiRate / bareRate).toFixed(2)}`);

  // 2. Answer → event latency, one answer at a time.
  const board = await TestBoard.connect(apiUrl, token);
  await board.subscribe(projectId);
  const asked = createdIds.slice(0, ANSWERS);
  await pool(asked.length, CONCURRENCY, async (i) => {
    const handle = client.workflow.getHandle(taskWorkflowId(asked[i]!));
    await executeTaskUpdate(handle, claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle, askQuestionUpdate, {
      agentId: agent,
      questionId: randomUUID(),
      question: 'q',
    });
  });
  const latencies: number[] = [];
  for (const taskId of asked) {
    const seen = new Promise<void>((resolve) => {
      const listener = (data: { taskId: string; newState: string }) => {
        if (data.taskId === taskId && data.newState === 'in_progress') {
          board.socket.off('task:status_changed', listener);
          resolve();
        }
      };
      board.socket.on('task:status_changed', listener);
    });
    const t0 = performance.now();
    await http.post(`/api/tasks/${taskId}/respond`, { answer: 'a' });
    await seen;
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  say(
    `answer → task:status_changed on socket.io: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (${latencies.length} answers)`,
  );
  board.close();

  // 3. Idle cost: tasks waiting on questions.
  const workerPid = worker.pid!;
  const temporalPid = temporal.process.pid!;
  const before = { worker: rssMiB(workerPid), temporal: rssMiB(temporalPid) };
  const idleSeconds = await pool(IDLE, CONCURRENCY, async () => {
    const taskId = (
      await http.post('/api/tasks', { projectId, title: 'idle', description: 'idle' })
    ).body.taskId;
    const handle = client.workflow.getHandle(taskWorkflowId(taskId));
    await executeTaskUpdate(handle, claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle, askQuestionUpdate, {
      agentId: agent,
      questionId: randomUUID(),
      question: 'q',
    });
  });
  await new Promise((r) => setTimeout(r, 5000));
  const after = { worker: rssMiB(workerPid), temporal: rssMiB(temporalPid) };
  say(`idle: ${IDLE} tasks waiting on questions (set up in ${idleSeconds.toFixed(0)} s)`);
  say(
    `idle: worker RSS ${before.worker} → ${after.worker} MiB; Temporal dev server RSS ${before.temporal} → ${after.temporal} MiB`,
  );
});
