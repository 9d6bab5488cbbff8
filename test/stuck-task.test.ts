import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { Emitter } from '@socket.io/redis-emitter';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { taskWorkflowId } from '../contracts/task';
import { createLogger } from '../platform/logger';
import { sweepStuckTasks } from '../worker/stuck-tasks';
import type { StuckTaskSweepDeps } from '../worker/stuck-tasks';
import { quietBundlerLogger } from './harness/services';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { untilProjected } from './support/projected';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Resolves once the task's workflow has no workflow task scheduled or running. */
async function untilIdle(client: Client, taskId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const handle = client.workflow.getHandle(taskWorkflowId(taskId));
  while ((await handle.describe()).raw.pendingWorkflowTask) {
    if (Date.now() > deadline) throw new Error(`task ${taskId}'s workflow never went idle`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The retryable answer of a call that ran out of time (a claim aiworker could not confirm, or
 * one passed over too late to claim another): the agent calls again.
 */
function unconfirmed(result: Awaited<ReturnType<typeof callTool>>): boolean {
  return result.refusal?.code === 'unavailable' && result.refusal.retryable;
}

/**
 * No poison pill: a task whose workflow the running workers cannot replay (it was started by
 * workflow code they do not have, as after an incompatible upgrade) fails its workflow task on
 * every attempt. Everything else goes on: agents get the next task, people get a 503 that names
 * the task within 10 s, the worker's sweep marks it stuck once (log, board, health report),
 * and clears the mark when the workflow runs again.
 */
describe('a task whose workflow cannot make progress', () => {
  jest.setTimeout(180_000);
  const taskQueue = uniqueTaskQueue('stuck');
  let driftedBundle: string;
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let worker: { stop(): Promise<void> } | null = null;
  let agent: McpClient;
  const logLines: string[] = [];
  let sweep: StuckTaskSweepDeps;

  beforeAll(async () => {
    // Workflow code of "another release": every task starts with a timer the current code lacks.
    const drifted = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'replay', 'fixtures', 'drifted-workflows.ts'),
      logger: quietBundlerLogger,
    });
    driftedBundle = path.join(process.env.AIWORKER_TEST_RUN_DIR!, `drifted-${taskQueue}.js`);
    writeFileSync(driftedBundle, drifted.code);
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    sweep = {
      client: api.deps.temporal.client,
      db: api.deps.db,
      redis: api.deps.redis,
      emitter: new Emitter(api.deps.redis),
      logger: createLogger(
        { logLevel: 'info' },
        new Writable({
          write: (chunk: Buffer, _e, done) => (logLines.push(chunk.toString()), done()),
        }),
      ),
      taskQueue,
    };
  });
  afterAll(async () => {
    await agent?.close();
    await worker?.stop();
    await api?.close();
  });

  it('is skipped by agents, refused with 503 in time, reported once, and cleared when it recovers', async () => {
    // Workers of the other release run first: the stuck task is created by its code, first and
    // with the top priority.
    worker = await startTestWorker({ taskQueue, bundlePath: driftedBundle });
    const projectId = (await createProject(http, { name: `stuck-${randomUUID()}` })).id as string;
    const registered = await http.post('/api/agents', {
      name: 'stuck agent',
      projectIds: [projectId],
    });
    agent = await connectAgent(api.url, registered.body.token);
    const create = async (title: string, priority: number) => {
      const res = await http.post('/api/tasks', { projectId, title, description: title, priority });
      expect(res.status).toBe(201);
      return res.body.taskId as string;
    };

    const stuck = await create('left by another release', 10);
    // That release's code has run the task's first workflow tasks: its history is that code's.
    // Its workers stop once they have nothing of it in hand (a workflow task they had taken
    // when stopped would only be retried after its 10 s timeout).
    await untilProjected(api.deps.db, [stuck]);
    await untilIdle(api.deps.temporal.client, stuck);
    await worker.stop();
    worker = await startTestWorker({ taskQueue });
    const good = await create('a good task', 0);
    // Claimable like any task whose workflow has run (what is tested here is the stuck one).
    await untilProjected(api.deps.db, [good]);

    // The agent is offered the stuck task first; it gets the good one instead. (On a loaded
    // machine the worker may fail the stuck task's workflow task only after the claim's
    // deadline: then the answer is retryable, and the agent calls again, as it is told to.)
    const asked = Date.now();
    let next = await callTool(agent, 'get_next_task', {});
    let calls = 1;
    for (; calls < 6 && unconfirmed(next); calls += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      next = await callTool(agent, 'get_next_task', {});
    }
    const claimMs = Date.now() - asked;
    expect({ isError: next.isError, text: next.isError ? next.text : '' }).toEqual({
      isError: false,
      text: '',
    });
    expect(next.data.task?.id).toBe(good);
    // The agent starts on it: its first call on the task says it has it.
    await callTool(agent, 'heartbeat', { taskId: good });

    // A person's action answers 503 naming the task, within 10 seconds, and changes nothing.
    const started = Date.now();
    const cancel = await http.post(`/api/tasks/${stuck}/cancel`, { reason: 'try' });
    const refusedMs = Date.now() - started;
    expect(refusedMs).toBeLessThan(10_000);
    console.log(
      `get_next_task past a stuck task: ${claimMs} ms in ${calls} call(s); 503 for the stuck task: ${refusedMs} ms`,
    );
    expect(cancel.status).toBe(503);
    expect(cancel.body.error.code).toBe('task_stuck');
    expect(cancel.body.error.message).toContain(`task ${stuck} cannot change now`);
    expect((await http.get(`/api/tasks/${stuck}`)).body.state).toBe('backlog');
    // A merge that names it before the sweep has marked it: its workflow answers no query
    // (Temporal holds the query), and the merge says why rather than wait out its deadline.
    const earlyMerge = await http.post('/api/merge', { taskIds: [stuck] });
    expect({ status: earlyMerge.status, code: earlyMerge.body.error?.code }).toEqual({
      status: 503,
      code: 'task_stuck',
    });

    // The sweep marks it once Temporal flags it (two failed attempts), however often it runs.
    const sweeping = Date.now();
    let marked: string[] = [];
    for (let i = 0; i < 60 && !marked.includes(stuck); i += 1) {
      marked = marked.concat((await sweepStuckTasks(sweep)).stuck);
      if (!marked.includes(stuck)) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(marked).toEqual([stuck]);
    console.log(`marked stuck by the sweep ${Date.now() - sweeping} ms after the first 503`);
    expect((await sweepStuckTasks(sweep)).stuck).toEqual([]);
    const errors = logLines.filter((l) => JSON.parse(l).level === 50);
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0]!)).toMatchObject({
      taskId: stuck,
      failure: expect.stringMatching(/[Nn]ondeterminism/),
    });

    const task = (await http.get(`/api/tasks/${stuck}`)).body;
    expect(task.stuck).toMatchObject({ reason: expect.stringContaining('nondeterminism') });
    const events = (await http.get(`/api/tasks/${stuck}/events`)).body.events;
    expect(events.map((e: { type: string }) => e.type)).toContain('task:stuck');

    const health = (await http.get('/api/health/workflows')).body;
    expect(health.failing).toBeGreaterThanOrEqual(1);
    expect(health.workflows.map((w: { workflowId: string }) => w.workflowId)).toContain(
      `task-${stuck}`,
    );
    expect(health.stuckTasks.map((t: { id: string }) => t.id)).toContain(stuck);
    const ready = (await fetch(`${api.url}/readyz`).then((r) => r.json())) as {
      workflows: { failing: number };
    };
    expect(ready.workflows.failing).toBeGreaterThanOrEqual(1);

    // Marked stuck, it is no longer a candidate: a new task is taken at once.
    const another = await create('another good task', 0);
    expect((await callTool(agent, 'get_next_task', {})).data.task?.id).toBe(another);
    // A merge that names it is refused the same way.
    const merge = await http.post('/api/merge', { taskIds: [stuck] });
    // (On a failure, the API's error lines show what the merge met.)
    const failed = api
      .logs()
      .split('\n')
      .filter((l) => l.includes('"level":50'));
    expect({ status: merge.status, code: merge.body.error?.code, failed }).toMatchObject({
      status: 503,
      code: 'task_stuck',
    });

    // Workers that can run it again (here: the release that started it) un-stick it once
    // Temporal's next attempt reaches them; until then, the answer stays a quick 503.
    await worker.stop();
    worker = await startTestWorker({ taskQueue, bundlePath: driftedBundle });
    let cancelled = await http.post(`/api/tasks/${stuck}/cancel`, { reason: 'recovered' });
    for (let i = 0; i < 60 && cancelled.status === 503; i += 1) {
      expect(cancelled.body.error.code).toBe('task_stuck');
      await new Promise((r) => setTimeout(r, 1000));
      cancelled = await http.post(`/api/tasks/${stuck}/cancel`, { reason: 'recovered' });
    }
    expect(cancelled.status).toBe(200);
    // The next sweep that finds its workflow running normally (here: closed) clears the mark.
    // Any worker's sweep may be the one (every sweep reads the marks of the shared read model),
    // so the test looks at the result, not at which sweep produced it: cleared once, announced once.
    let cleared = false;
    for (let i = 0; i < 30 && !cleared; i += 1) {
      await sweepStuckTasks(sweep);
      cleared = (await http.get(`/api/tasks/${stuck}`)).body.stuck === null;
      if (!cleared) await new Promise((r) => setTimeout(r, 500));
    }
    const after = (await http.get(`/api/tasks/${stuck}/events`)).body.events;
    expect(after.filter((e: { type: string }) => e.type === 'task:recovered')).toHaveLength(1);
    expect((await http.get(`/api/tasks/${stuck}`)).body).toMatchObject({
      state: 'cancelled',
      stuck: null,
    });
  });
});
