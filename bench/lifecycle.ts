// Measures how soon people see a task change (docs/performance.md, "Task lifecycle"): a person's
// answer moves the task back to in_progress, and the board's socket.io client receives
// task:status_changed. Task creation and the memory of waiting tasks have their own benchmarks
// (bench:create, bench:memory).
//
//   npm run bench:lifecycle            (default: 500 answers)
//   BENCH_ANSWERS=100 npm run bench:lifecycle
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { askQuestionUpdate, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from '../test/support/agents';
import { TestBoard } from '../test/support/board';
import { machine, p50p99, pool, runBench, say } from './stack';

const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);

runBench(async ({ temporal, deps, apiUrl, token, http, onClose }) => {
  const agent = await registerTestAgent(deps.db, 'bench');
  const projectId: string = (await http.post('/api/projects', { name: 'bench' })).body.id;
  const connection = await Connection.connect({ address: temporal.address });
  onClose(() => connection.close());
  const client = new Client({ connection });

  say(machine());

  // Tasks waiting on a question, one per answer.
  const asked: string[] = [];
  await pool(ANSWERS, CONCURRENCY, async () => {
    const res = await http.post('/api/tasks', { projectId, title: 'bench', description: 'bench' });
    if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
    const handle = client.workflow.getHandle(taskWorkflowId(res.body.taskId));
    await executeTaskUpdate(handle, claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle, askQuestionUpdate, {
      agentId: agent,
      questionId: randomUUID(),
      question: 'q',
    });
    asked.push(res.body.taskId as string);
  });

  // Answer → event latency, one answer at a time.
  const board = await TestBoard.connect(apiUrl, token);
  await board.subscribe(projectId);
  // Two clocks from the moment the answer is sent: when the board sees the task move, and when
  // the person's own request is answered (a little later: the task's workflow finishes its update
  // after the change is projected and published).
  const latencies: number[] = [];
  const responds: number[] = [];
  for (const taskId of asked) {
    let t0 = 0;
    const seen = new Promise<number>((resolve) => {
      const listener = (data: { taskId: string; newState: string }) => {
        if (data.taskId === taskId && data.newState === 'in_progress') {
          board.socket.off('task:status_changed', listener);
          resolve(performance.now() - t0);
        }
      };
      board.socket.on('task:status_changed', listener);
    });
    t0 = performance.now();
    await http.post(`/api/tasks/${taskId}/respond`, { answer: 'a' });
    responds.push(performance.now() - t0);
    latencies.push(await seen);
  }
  say(
    `answer → task:status_changed on socket.io: ${p50p99(latencies)} (${latencies.length} answers); ` +
      `the person's POST /respond answered: ${p50p99(responds)}`,
  );
  board.close();
});
