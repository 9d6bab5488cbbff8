// Measures what agents feel (docs/performance.md): how fast many agents take tasks with MCP
// `get_next_task` next to the engine's own update-plus-activity rate (a claim is an update whose
// handler projects the change), that no task is ever given to two of them, the same claim loop in the seed's
// design (SELECT then UPDATE without locking) on the same MariaDB for comparison, and how soon
// an agent waiting in `check_response` gets a person's answer. The agents are lean MCP clients
// (bench/lean-agent.ts); each round also prices a ping from the MCP SDK's own client.
//
//   npm run bench:claims               (defaults: 1,000 tasks per round, 1/10/50/100 agents, 200 answers)
//   BENCH_TASKS=200 BENCH_AGENTS=1,10,50 BENCH_ANSWERS=200 npm run bench:claims
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mariadb from 'mariadb';
import { mariadbOptions } from '../db/url';
import { connectAgent } from '../test/support/mcp-agent';
import { measureEngine, versus } from './engine';
import { LeanAgent } from './lean-agent';
import {
  cpuSince,
  machine,
  machineBusySince,
  p50p99,
  pool,
  runBench,
  say,
  servicePid,
} from './stack';

// About 20 minutes on two cores: each round creates its backlog, then the engine does the same
// number of updates three ways (bare, with the search attributes, on uncached workflows).
const TASKS = Number(process.env.BENCH_TASKS ?? 1000);
const AGENTS = (process.env.BENCH_AGENTS ?? '1,10,50,100')
  .split(',')
  .map((n) => Number(n.trim()))
  .filter((n) => n > 0);
const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);

/** Calls the agents of a round make together to price an MCP call (ping, heartbeat). */
const PRICED_CALLS = 500;

const pct = (share: number) => `${Math.round(100 * share)}%`;

/** How many ids occur more than once. */
function countRepeated(ids: string[]): number {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
}

runBench(
  async ({ deps, apiUrl, http, databaseUrl, temporal, worker, config, onClose }) => {
    const clients: LeanAgent[] = [];
    onClose(() => Promise.resolve(clients.splice(0).forEach((c) => c.close())));

    const project = async (name: string): Promise<string> =>
      (await http.post('/api/projects', { name: `${name}-${randomUUID()}` })).body.id;
    const agent = async (projectId: string) => {
      // A hundred registrations at once can outlast a request's deadline on two cores: an answer
      // marked retryable is sent again, a few times. (A registration that still went through
      // leaves an agent that never calls.)
      const register = () =>
        http.post('/api/agents', { name: `bench-${randomUUID()}`, projectIds: [projectId] });
      let res = await register();
      for (let retry = 0; res.status !== 201 && res.body?.error?.retryable && retry < 5; retry++) {
        await sleep(1000 * (res.body.error.retryAfterSeconds ?? 1));
        res = await register();
      }
      if (res.status !== 201) throw new Error(`registration failed: ${JSON.stringify(res.body)}`);
      const client = await LeanAgent.connect(apiUrl, res.body.token);
      clients.push(client);
      return { id: res.body.agentId as string, token: res.body.token as string, client };
    };
    /** Creates a backlog and waits until every task's workflow has projected it (version 1 on). */
    const createTasks = async (projectId: string, count: number): Promise<number> => {
      const started = performance.now();
      await pool(count, CONCURRENCY, async (i) => {
        const res = await http.post('/api/tasks', {
          projectId,
          title: `bench ${i}`,
          description: 'bench',
        });
        if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
      });
      const projected = { projectId, version: { gt: 0 } };
      while ((await deps.db.task.count({ where: projected })) < count) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return (performance.now() - started) / 1000;
    };

    // Where a claim's CPU goes: milliseconds per claim in each process over the round (the API
    // and the agents' MCP clients share this process), next to the engine's own.
    // MariaDB and Redis are the machine's own services, shared with the engine's rounds too.
    const mariadbPid = servicePid('mariadbd');
    const redisPid = servicePid('redis-server');
    const pids = {
      temporal: temporal.process.pid!,
      worker: worker.pid!,
      'api+agents': process.pid,
      ...(mariadbPid ? { mariadb: mariadbPid } : {}),
      ...(redisPid ? { redis: redisPid } : {}),
    } as Record<string, number>;
    const cpuMsPer = async (count: number, run: () => Promise<unknown>) => {
      const spent = cpuSince(pids);
      await run();
      const seconds = spent();
      return Object.fromEntries(
        Object.entries(seconds).map(([name, s]) => [name, (1000 * s) / count]),
      ) as Record<keyof typeof pids, number>;
    };

    say(machine());
    say(
      `sizes: ${TASKS} backlog tasks per round, agents ${AGENTS.join('/')}, ${ANSWERS} answers, tasks created ${CONCURRENCY} at a time`,
    );

    // 1. get_next_task over MCP: each round, a fresh project and backlog, fresh agents.
    for (const n of AGENTS) {
      const projectId = await project(`claims-${n}`);
      const createSeconds = await createTasks(projectId, TASKS);
      const agents = await Promise.all(Array.from({ length: n }, () => agent(projectId)));
      const claims: Array<{ agentId: string; taskId: string }> = [];
      const latencies: number[] = [];
      const lastTask = new Map<string, string>();
      let retried = 0;
      const started = performance.now();
      const busy = machineBusySince();
      const claimCpuMs = await cpuMsPer(TASKS, () =>
        Promise.all(
          agents.map(async (a) => {
            for (;;) {
              const t0 = performance.now();
              const res = await a.client.callTool('get_next_task', {});
              const ms = performance.now() - t0;
              // A claim aiworker could not confirm within its deadline (calls queued behind a
              // hundred agents' on two cores) is called again, as an agent is told to.
              if (res.isError && res.retryable && retried < TASKS) {
                retried += 1;
                continue;
              }
              if (res.isError) throw new Error(`get_next_task failed: ${res.text}`);
              if (!res.data.task) return;
              latencies.push(ms);
              claims.push({ agentId: a.id, taskId: res.data.task.id });
              lastTask.set(a.id, res.data.task.id);
              // An agent's first call on its task tells aiworker it has it (else get_next_task
              // would hand it over again); not counted in the claim's latency.
              await a.client.callTool('heartbeat', { taskId: res.data.task.id });
            }
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const claimBusy = busy();
      // The read model must agree with what the agents were told: every task in progress, held by
      // the one agent whose claim returned it.
      const rows = await deps.db.task.findMany({
        where: { projectId },
        select: { id: true, state: true, assignedAgentId: true },
      });
      const claimedBy = new Map(claims.map((c) => [c.taskId, c.agentId]));
      const disagreeing = rows.filter(
        (r) => r.state !== 'in_progress' || r.assignedAgentId !== claimedBy.get(r.id),
      ).length;
      say(
        `get_next_task, ${String(n).padStart(3)} agents: ${(claims.length / seconds).toFixed(1)} claims/s, ${p50p99(latencies)}; ` +
          `${claims.length}/${TASKS} claimed, assigned twice ${countRepeated(claims.map((c) => c.taskId))}, ` +
          `read model disagreeing ${disagreeing}, calls answered unavailable and sent again ${retried} ` +
          `(backlog created at ${(TASKS / createSeconds).toFixed(1)} tasks/s)`,
      );
      // What an MCP call costs apart from its tool's work: a ping (the protocol and HTTP round
      // trip alone) and a heartbeat (one read of the read model, a few Redis keys), CPU per call.
      const perAgent = Math.ceil(PRICED_CALLS / n);
      const callCpu = async <C>(callers: C[], call: (c: C) => Promise<unknown>) => {
        const ms = await cpuMsPer(perAgent * callers.length, () =>
          Promise.all(
            callers.map(async (c) => {
              for (let i = 0; i < perAgent; i += 1) await call(c);
            }),
          ),
        );
        return ms['api+agents']!.toFixed(2);
      };
      const pingMs = await callCpu(agents, (a) => a.client.ping());
      const heartbeatMs = await callCpu(agents, (a) =>
        a.client.callTool('heartbeat', { taskId: lastTask.get(a.id)! }),
      );
      // The same ping from the MCP SDK's own client (`Client` over its Streamable HTTP
      // transport), for what the benchmark's lean agents leave to the rest of the machine.
      const sdkClients = await Promise.all(agents.map((a) => connectAgent(apiUrl, a.token)));
      const sdkPingMs = await callCpu(sdkClients, (c) => c.ping());
      await Promise.all(sdkClients.map((c) => c.close()));
      clients.splice(0).forEach((c) => c.close());
      // The engine doing the same number of updates-with-an-activity, as many at once.
      const engine = await measureEngine(
        temporal.address,
        TASKS,
        n,
        temporal.process.pid!,
        config.maxCachedWorkflows,
      );
      say(
        `  CPU ms per claim: ${Object.entries(claimCpuMs)
          .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
          .join(
            ', ',
          )}; per engine update + activity: temporal ${engine.updateActivityCpuMs.server.toFixed(1)}, its worker and client ${engine.updateActivityCpuMs.worker.toFixed(1)}`,
      );
      say(
        `  machine busy: ${pct(claimBusy)} of every core during the claims, ${pct(engine.updateActivityMachineBusy)} during the engine's updates + activity; ` +
          `an MCP call apart from its tool (API and agent's client): ping ${pingMs} ms CPU ` +
          `(${sdkPingMs} ms with the MCP SDK's client), heartbeat ${heartbeatMs} ms`,
      );
      say(
        versus(
          `get_next_task, ${String(n).padStart(3)} agents`,
          claims.length / seconds,
          engine.updateActivityPerSecond,
          `update + activity, ${n} at once,`,
        ) +
          ` (its bare start ${engine.startsPerSecond.toFixed(1)}/s, update ${engine.updatesPerSecond.toFixed(1)}/s)`,
      );
      say(
        `  the engine's update recording a claim's two search attributes, then its activity: ${engine.markedUpdateActivityPerSecond.toFixed(1)}/s, ` +
          `ratio of claims to it ${(claims.length / seconds / engine.markedUpdateActivityPerSecond).toFixed(2)}`,
      );
      say(
        `  the engine's update + activity on workflows started first, its worker caching ${config.maxCachedWorkflows} as aiworker's does: ` +
          `${engine.coldUpdateActivityPerSecond.toFixed(1)}/s, ratio of claims to it ${(claims.length / seconds / engine.coldUpdateActivityPerSecond).toFixed(2)}; ` +
          `CPU ms per update: temporal ${engine.coldUpdateActivityCpuMs.server.toFixed(1)}, its worker and client ${engine.coldUpdateActivityCpuMs.worker.toFixed(1)}`,
      );
    }

    // 2. The seed's claim: read the oldest backlog row, then update it, with nothing stopping two
    // connections from reading the same row in between.
    // A hundred connections opened at once on a busy machine can take more than the driver's
    // default second to connect.
    const dbOptions = { ...mariadbOptions(databaseUrl), connectTimeout: 10_000 };
    const admin = await mariadb.createConnection(dbOptions);
    onClose(() => admin.end());
    await admin.query(
      `CREATE TABLE seed_claims (
       id VARCHAR(36) PRIMARY KEY,
       state VARCHAR(20) NOT NULL,
       agent VARCHAR(36) NULL,
       created_at DATETIME(3) NOT NULL,
       KEY by_state (state, created_at)
     )`,
    );
    for (const n of AGENTS) {
      await admin.query('DELETE FROM seed_claims');
      const epoch = Date.now();
      const rows = Array.from({ length: TASKS }, (_, i) => [
        randomUUID(),
        'backlog',
        new Date(epoch + i),
      ]);
      await admin.batch('INSERT INTO seed_claims (id, state, created_at) VALUES (?, ?, ?)', rows);
      const conns = await Promise.all(
        Array.from({ length: n }, () => mariadb.createConnection(dbOptions)),
      );
      const claimed: string[] = [];
      const started = performance.now();
      await Promise.all(
        conns.map(async (conn, i) => {
          const agentId = `agent-${i}`;
          for (;;) {
            const found: Array<{ id: string }> = await conn.query(
              "SELECT id FROM seed_claims WHERE state = 'backlog' ORDER BY created_at LIMIT 1",
            );
            if (found.length === 0) return;
            await conn.query(
              "UPDATE seed_claims SET state = 'in_progress', agent = ? WHERE id = ?",
              [agentId, found[0]!.id],
            );
            claimed.push(found[0]!.id);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(conns.map((c) => c.end()));
      const twice = countRepeated(claimed);
      say(
        `seed SELECT-then-UPDATE, ${String(n).padStart(3)} connections: ${(claimed.length / seconds).toFixed(0)} claims/s; ` +
          `${claimed.length} claims for ${TASKS} rows, ${twice} rows assigned more than once`,
      );
    }

    if (ANSWERS === 0) return;
    // 3. Answer → check_response: the agent waits; the person answers through the API.
    const answerProject = await project('answers');
    await createTasks(answerProject, ANSWERS);
    const asker = await agent(answerProject);
    // Two clocks from the moment the answer is sent: when the waiting agent has it, and when the
    // person's own request is answered. The answer reaches check_response as soon as the read
    // model has it; the respond request is answered a little later, once the task's workflow has
    // finished its update (docs/performance.md, "After 0.8.0, fourth pass").
    const wakeups: number[] = [];
    const responds: number[] = [];
    for (let i = 0; i < ANSWERS; i += 1) {
      const next = await asker.client.callTool('get_next_task', {});
      const taskId: string = next.data.task.id;
      const asked = await asker.client.callTool('ask_user_question', { taskId, question: 'q' });
      if (asked.isError) throw new Error(`ask_user_question failed: ${asked.text}`);
      let t0 = 0;
      const waiting = asker.client
        .callTool('check_response', {
          taskId,
          questionId: asked.data.questionId,
          waitSeconds: 30,
        })
        .then((got) => ({ got, ms: performance.now() - t0 }));
      // Let the call reach its wait, so the answer has to wake it rather than be read at once.
      await new Promise((r) => setTimeout(r, 150));
      t0 = performance.now();
      const res = await http.post(`/api/tasks/${taskId}/respond`, { answer: 'a' });
      responds.push(performance.now() - t0);
      if (res.status >= 300) throw new Error(`respond failed: ${JSON.stringify(res.body)}`);
      const { got, ms } = await waiting;
      if (!got.data?.answered)
        throw new Error(`check_response did not return the answer: ${got.text}`);
      wakeups.push(ms);
    }
    say(
      `answer → check_response (waitSeconds 30) returns answered: ${p50p99(wakeups)} (${wakeups.length} answers one after another); ` +
        `the person's POST /respond answered: ${p50p99(responds)}`,
    );
  },
  // A round with one agent takes minutes; a lease running out mid-round would put tasks back in
  // the backlog and count as a (legitimate) second assignment. One agent claiming and
  // acknowledging as fast as it can exceeds the default 20 requests/s per token: the benchmark
  // measures claims, not the limiter (bench:limits does).
  {
    leaseMs: 3600_000,
    limits: {
      agentRequestsPerSecond: 10_000,
      agentConcurrentRequests: 1_000,
      authFailuresPerMinute: 30,
    },
  },
);
