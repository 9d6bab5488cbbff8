/**
 * `npm run bench:limits`: one agent bursts 500 MCP requests at once while other agents work;
 * prints how many of the burst were refused (429) or failed (5xx), and the other agents' latency
 * with and without the burst. Limits are the defaults (20 requests/s, 8 open per token). The API
 * under test runs as a process of its own, so the bench's 500 clients do not share its event loop.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../platform/config';
import { ApiProcess } from '../test/support/api-process';
import { apiClient } from '../test/support/http';
import { machine, p50p99, runBench, say } from './stack';

const BURST = 500;
const CALM_AGENTS = 4;
const CALM_CALLS = 15;

runBench(async (stack) => {
  say(machine());
  const api = new ApiProcess({
    AIWORKER_ADMIN_TOKEN: stack.token,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.config.temporal.address,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
  });
  stack.onClose(() => api.stop());
  await api.start();
  const apiUrl = api.url;
  const http = apiClient(apiUrl, stack.token);
  const projectId = (await http.post('/api/projects', { name: `limits-${randomUUID()}` })).body
    .id as string;
  const register = async (name: string) =>
    (await http.post('/api/agents', { name, projectIds: [projectId] })).body.token as string;
  const noisy = await register('noisy');
  const calm = await Promise.all(
    Array.from({ length: CALM_AGENTS }, (_, i) => register(`calm-${i}`)),
  );
  // A call every agent makes all day: "anything for me?" (reads the read model).
  const call = async (token: string) => {
    const started = performance.now();
    const res = await fetch(`${apiUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_next_task', arguments: { projectId } },
      }),
    });
    await res.text();
    return { status: res.status, ms: performance.now() - started };
  };
  // Each calm agent calls at a steady pace, under its limit.
  const steady = async () => {
    const ms: number[] = [];
    await Promise.all(
      calm.map(async (token) => {
        for (let i = 0; i < CALM_CALLS; i += 1) {
          const r = await call(token);
          if (r.status !== 200) throw new Error(`a calm agent got ${r.status}`);
          ms.push(r.ms);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }),
    );
    return ms;
  };
  await steady(); // warm-up
  const quiet = await steady();
  const [loud, burst] = await Promise.all([
    steady(),
    Promise.all(Array.from({ length: BURST }, () => call(noisy))),
  ]);
  const count = (s: (n: number) => boolean) => burst.filter((r) => s(r.status)).length;
  const limits = loadConfig(process.env).limits;
  say(
    `limits: ${limits.agentRequestsPerSecond} requests/s and ${limits.agentConcurrentRequests} open per agent token`,
  );
  say(
    `burst of ${BURST} from one agent: ${count((s) => s === 200)} answered, ${count((s) => s === 429)} refused (429), ${count((s) => s >= 500)} failed (5xx)`,
  );
  say(`burst latency (all answers, 429s included): ${p50p99(burst.map((r) => r.ms))}`);
  say(`other agents (${CALM_AGENTS}×${CALM_CALLS} get_next_task), no burst: ${p50p99(quiet)}`);
  say(`other agents during the burst: ${p50p99(loud)}`);
});
