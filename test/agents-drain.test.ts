import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { taskHistoryQuery } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { claimRecord } from './support/claim-record';
import { unreplayable } from './support/history-outline';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { uniqueTaskQueue } from './support/worker';
import { WorkerProcess } from './support/worker-process';

const AGENTS = 50;
const TASKS = 500;
/** The worker is killed once this many tasks have been handed out. */
const KILL_AFTER = 150;
/** Agents stop asking after this long, so that a drain that cannot finish fails with its figures. */
const DRAIN_DEADLINE_MS = 600_000;

/** Runs `work` over `items`, at most `limit` at a time (the machine running the tests is small). */
async function eachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * Flow 2 under load: many agents asking at once over the real MCP transport drain a large backlog,
 * each task handed to exactly one agent, none lost, although the worker dies (SIGKILL) in the
 * middle and a new one takes over.
 */
describe('agents draining the backlog', () => {
  const taskQueue = uniqueTaskQueue('drain');
  const worker = new WorkerProcess({ TEMPORAL_TASK_QUEUE: taskQueue });
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  const clients: Client[] = [];

  beforeAll(async () => {
    await worker.start();
    api = await startTestApi({ taskQueue, connectionLimit: 10 });
    http = apiClient(api.url, api.adminToken);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await worker.stop();
    await api.close();
  });

  it(`${AGENTS} agents take ${TASKS} tasks exactly once each through a worker kill`, async () => {
    const projectId = (await createProject(http, { name: `drain-${randomUUID()}` })).id as string;
    // Registered ten at a time, as the tasks are created below: what is under test is the drain.
    const agents: Array<{ id: string; client: Client }> = [];
    await eachLimited(
      Array.from({ length: AGENTS }, (_, i) => i),
      10,
      async (i) => {
        const { status, body } = await http.post('/api/agents', {
          name: `drain-agent-${i}`,
          projectIds: [projectId],
        });
        expect(status).toBe(201);
        const client = await connectAgent(api.url, body.token);
        clients.push(client);
        agents.push({ id: body.agentId as string, client });
      },
    );

    const created = new Set<string>();
    await eachLimited(
      Array.from({ length: TASKS }, (_, i) => i),
      10,
      async (i) => {
        const { status, body } = await http.post('/api/tasks', {
          projectId,
          title: `task ${i}`,
          description: `do task ${i}`,
        });
        expect(status).toBe(201);
        created.add(body.taskId);
      },
    );
    expect(created.size).toBe(TASKS);

    const claims: Array<{ agentId: string; taskId: string }> = [];
    /** Calls that failed or answered isError, and the first few of them. */
    let erroredCalls = 0;
    const errorSamples: string[] = [];
    /** `task: null` answers while the read model still had backlog tasks (agents kept asking). */
    let earlyNulls = 0;
    let restarted = false;
    let restart: Promise<void> | undefined;
    let killedAt = 0;
    let backAt = 0;
    const killAndRestart = async () => {
      killedAt = Date.now();
      await worker.kill();
      await worker.start();
      backAt = Date.now();
      restarted = true;
    };
    const backlogLeft = () => api.deps.db.task.count({ where: { projectId, state: 'backlog' } });

    const started = Date.now();
    await Promise.all(
      agents.map(async (agent) => {
        for (;;) {
          // Only an answer to a call made with the new worker in place may end the loop.
          const afterRestart = restarted;
          const phase = restarted
            ? 'after the kill'
            : killedAt
              ? 'during the kill'
              : 'before the kill';
          let res: Awaited<ReturnType<typeof callTool>> | undefined;
          try {
            res = await callTool(agent.client, 'get_next_task', { waitSeconds: 1 });
          } catch (err) {
            if (errorSamples.length < 5) errorSamples.push(`${phase}: ${String(err)}`);
          }
          if (!res || res.isError) {
            // The transport failed, or the server failed the call (a result with isError: no
            // refusal is expected here): the agent asks again; the assertions below tell whether
            // a task was lost on the way.
            erroredCalls += 1;
            if (res && errorSamples.length < 5) errorSamples.push(`${phase}: ${res.text}`);
            await sleep(200);
            continue;
          }
          const task = res.data.task as { id: string; resumed: boolean } | null;
          if (task) {
            // A task handed over again (the agent's first call on it failed) is the same claim.
            const again = task.resumed && claims.some((c) => c.taskId === task.id);
            // Decided here, before any other await: counted later, the 150th claim could be
            // passed by others' and the kill would never happen.
            if (!again && claims.push({ agentId: agent.id, taskId: task.id }) === KILL_AFTER) {
              restart = killAndRestart();
            }
            // The agent starts on it (any call on the task says it has it); a heartbeat that
            // fails here is retried by the agent's next call on the task in real life.
            await callTool(agent.client, 'heartbeat', { taskId: task.id }).catch(() => undefined);
            continue;
          }
          // Done once every task reached an agent: with the backlog empty, a claim whose answer
          // was lost comes back to its agent with a later call.
          if (afterRestart && claims.length >= TASKS) return;
          if (Date.now() - started > DRAIN_DEADLINE_MS) return;
          if ((await backlogLeft()) > 0) earlyNulls += 1;
        }
      }),
    );
    const drainMs = Date.now() - started;
    await restart;
    const rate = (claims.length / (drainMs / 1000)).toFixed(1);
    console.log(
      `drained ${claims.length} tasks with ${AGENTS} agents in ${(drainMs / 1000).toFixed(1)} s ` +
        `(${rate} claims/s); worker away for ${((backAt - killedAt) / 1000).toFixed(1)} s; ` +
        `${erroredCalls} errored calls${errorSamples.length ? ` (${errorSamples.join(' | ')})` : ''}; ` +
        `${earlyNulls} null answers while backlog tasks remained; ` +
        `${await backlogLeft()} tasks in the read model's backlog at the end`,
    );

    // Every task taken exactly once: no duplicates, none missing.
    expect(restarted).toBe(true);
    const taken = claims.map((c) => c.taskId);
    expect(taken.filter((id, i) => taken.indexOf(id) !== i)).toEqual([]);
    // (A task none was told of: what the read model, its workflow and the marks say of it.)
    const missing = await Promise.all(
      [...created]
        .filter((id) => !taken.includes(id))
        .map(async (id) => {
          const row = await api.deps.db.task.findUnique({
            where: { id },
            select: { state: true, assignedAgentId: true },
          });
          const agentIds = agents.map((a) => a.id);
          return { id, row, ...(await claimRecord(api.deps, id, agentIds)) };
        }),
    );
    expect(missing).toEqual([]);
    expect(claims).toHaveLength(TASKS);

    // The read model agrees with what each agent was told.
    const claimer = new Map(claims.map((c) => [c.taskId, c.agentId]));
    const { status, body } = await http.get(`/api/tasks?projectId=${projectId}`);
    expect(status).toBe(200);
    const rows = body.tasks as Array<{ id: string; state: string; assignedAgentId: string }>;
    expect(rows).toHaveLength(TASKS);
    const disagreements = rows.filter(
      (t) => t.state !== 'in_progress' || t.assignedAgentId !== claimer.get(t.id),
    );
    expect(disagreements).toEqual([]);

    // Every history recorded through the kill replays on the same code: one that did not would
    // strand its task at its next cache eviction. (Its outline is printed to find out why.)
    const workflowIds = [...created].map(taskWorkflowId);
    const bundle = process.env.AIWORKER_TEST_WORKFLOW_BUNDLE!;
    expect(await unreplayable(api.deps.temporal.client, workflowIds, bundle)).toEqual([]);

    // Each workflow recorded one assignment that held: any other was given back, on the record
    // (a claim whose caller's connection broke before the answer was written).
    const notOnce: Array<{ taskId: string; toInProgress: number }> = [];
    await eachLimited([...created], 10, async (taskId) => {
      const history = await api.deps.temporal.client.workflow
        .getHandle(taskWorkflowId(taskId))
        .query(taskHistoryQuery);
      const toInProgress = history.filter((t) => t.to === 'in_progress').length;
      const givenBack = history.filter(
        (t) => t.from === 'in_progress' && t.to === 'backlog',
      ).length;
      if (toInProgress !== givenBack + 1) notOnce.push({ taskId, toInProgress });
    });
    expect(notOnce).toEqual([]);
  }, 900_000);
});
