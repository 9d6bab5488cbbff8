import { randomUUID } from 'node:crypto';
import { callTool, connectAgent } from '../test/support/mcp-agent';
import { cpuSince, pool, runBench, say } from './stack';
runBench(
  async ({ deps, apiUrl, http, temporal, worker }) => {
    const projectId = (await http.post('/api/projects', { name: `p-${randomUUID()}` })).body.id;
    await pool(10, 10, async (i) => {
      await http.post('/api/tasks', { projectId, title: `t${i}`, description: 'd' });
    });
    while ((await deps.db.task.count({ where: { projectId, version: { gt: 0 } } })) < 10)
      await new Promise((r) => setTimeout(r, 100));
    const agents = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { body } = await http.post('/api/agents', {
          name: `a-${randomUUID()}`,
          projectIds: [projectId],
        });
        const client = await connectAgent(apiUrl, body.token);
        const t = await callTool(client, 'get_next_task', {});
        return { client, taskId: t.data.task.id as string };
      }),
    );
    const pids = {
      temporal: temporal.process.pid!,
      worker: worker.pid!,
      'api+agents': process.pid,
    };
    const N = 2000;
    const measure = async (name: string, f: (a: (typeof agents)[number]) => Promise<unknown>) => {
      const spent = cpuSince(pids);
      const t0 = performance.now();
      await Promise.all(
        agents.map(async (a) => {
          for (let i = 0; i < N / 10; i++) await f(a);
        }),
      );
      const s = spent();
      say(
        `${name}: ${(N / ((performance.now() - t0) / 1000)).toFixed(0)}/s; CPU ms per call ` +
          Object.entries(s)
            .map(([k, v]) => `${k} ${((1000 * v) / N).toFixed(2)}`)
            .join(', '),
      );
    };
    for (let k = 0; k < 2; k++) {
      await measure('ping', (a) => a.client.ping());
      await measure('heartbeat', (a) => callTool(a.client, 'heartbeat', { taskId: a.taskId }));
      await measure('list_my_tasks', (a) => callTool(a.client, 'list_my_tasks', {}));
      await measure('GET /api/tasks/:id', (a) => http.get(`/api/tasks/${a.taskId}`));
    }
    await Promise.all(agents.map((a) => a.client.close()));
  },
  {
    leaseMs: 3600_000,
    limits: {
      agentRequestsPerSecond: 10_000,
      agentConcurrentRequests: 1_000,
      authFailuresPerMinute: 30,
    },
  },
);
