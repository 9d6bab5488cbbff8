import { randomBytes, randomUUID } from 'node:crypto';
import { errorBodySchema } from '../../contracts/errors';
import { migrate } from '../../prisma/migrator';
import { startTestApi } from '../../test/support/api';
import type { TestApi } from '../../test/support/api';
import { TestBoard } from '../../test/support/board';
import { apiClient } from '../../test/support/http';
import { callTool, connectAgent } from '../../test/support/mcp-agent';
import { scrape, valueOf } from '../../test/support/metrics';
import type { Sample } from '../../test/support/metrics';
import { dropDatabase, scratchDatabaseUrl } from '../../test/support/scratch-db';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';

/** The API's metrics, scraped as Prometheus does, around real work. */
describe('GET /metrics of the API', () => {
  const taskQueue = uniqueTaskQueue('metrics');
  // A database of its own: the gauges count every task and question in it.
  const databaseUrl = scratchDatabaseUrl('metrics');
  const metricsToken = randomBytes(24).toString('hex');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let metricsOff: TestApi;

  beforeAll(async () => {
    await migrate(databaseUrl);
    worker = await startTestWorker({ taskQueue, databaseUrl });
    api = await startTestApi({ taskQueue, databaseUrl, metricsToken });
    metricsOff = await startTestApi({ taskQueue, databaseUrl });
  });
  afterAll(async () => {
    await metricsOff?.close();
    await api?.close();
    await worker?.stop();
    await dropDatabase(databaseUrl);
  });

  /** Scrapes until `ok` holds (the read model's gauges are read at most every 5 s). */
  async function scrapeUntil(ok: (samples: Sample[]) => boolean): Promise<Sample[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const samples = await scrape(api.url, metricsToken);
      if (ok(samples) || Date.now() > deadline) return samples;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('counts requests, claims, tool calls and relays, and reads tasks and questions', async () => {
    const http = apiClient(api.url, api.adminToken);
    const before = await scrape(api.url, metricsToken);
    const projectId = (await http.post('/api/projects', { name: `metrics-${randomUUID()}` })).body
      .id as string;
    const board = await TestBoard.connect(api.url, api.adminToken);
    await board.subscribe(projectId);
    const created = await http.post('/api/tasks', { projectId, title: 't', description: 'do t' });
    expect(created.status).toBe(201);
    const taskId = created.body.taskId as string;
    expect((await http.get(`/api/tasks/${taskId}`)).status).toBe(200);
    const { body: agent } = await http.post('/api/agents', {
      name: 'metrics',
      projectIds: [projectId],
    });
    const client = await connectAgent(api.url, agent.token);
    expect((await callTool(client, 'get_next_task', {})).data.task.id).toBe(taskId);
    const asked = await callTool(client, 'ask_user_question', { taskId, question: 'which?' });
    expect(asked.isError).toBe(false);
    // Nothing else in the backlog: this one waits a second and comes back empty.
    expect((await callTool(client, 'get_next_task', { waitSeconds: 1 })).data.task).toBeNull();
    await board.waitFor((e) => e.type === 'task:needs_input');

    const after = await scrapeUntil((s) => valueOf(s, 'aiworker_open_questions') === 1);
    const moved = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect({
      taskCreations: moved('aiworker_http_requests_total', {
        method: 'POST',
        route: '/api/tasks',
        status: '201',
      }),
      taskReads: moved('aiworker_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/tasks/:id',
        status_class: '2xx',
      }),
      claimed: moved('aiworker_mcp_claims_total', { outcome: 'claimed' }),
      empty: moved('aiworker_mcp_claims_total', { outcome: 'empty' }),
      questionsAsked: moved('aiworker_mcp_tool_call_duration_seconds_count', {
        tool: 'ask_user_question',
        outcome: 'ok',
      }),
      waitsTimedOut: moved('aiworker_mcp_long_poll_wait_seconds_count', {
        call: 'get_next_task',
        ended: 'timed_out',
      }),
      openQuestions: valueOf(after, 'aiworker_open_questions'),
      waiting: valueOf(after, 'aiworker_tasks', { project_id: projectId, state: 'needs_input' }),
      inBacklog: valueOf(after, 'aiworker_tasks', { project_id: projectId, state: 'backlog' }),
      socketClients: valueOf(after, 'aiworker_socket_clients'),
    }).toEqual({
      taskCreations: 1,
      taskReads: 1,
      claimed: 1,
      empty: 1,
      questionsAsked: 1,
      waitsTimedOut: 1,
      openQuestions: 1,
      waiting: 1,
      inBacklog: 0,
      socketClients: 1,
    });
    expect(moved('aiworker_http_requests_total', { route: '/mcp', status: '200' })).toBeGreaterThan(
      2,
    );
    expect(valueOf(after, 'aiworker_open_question_oldest_age_seconds')).toBeGreaterThan(0);
    expect(valueOf(after, 'aiworker_open_question_oldest_age_seconds')).toBeLessThan(60);
    expect(moved('aiworker_event_relay_lag_seconds_count')).toBeGreaterThan(0);
    expect(after.find((s) => s.name === 'aiworker_stuck_tasks')?.value).toBe(0);
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Labels hold route templates and states, never a task's id or a URL.
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes(taskId)))).toBe(false);

    board.close();
    await client.close();
    await scrapeUntil((s) => valueOf(s, 'aiworker_socket_clients') === 0);
    expect(valueOf(await scrape(api.url, metricsToken), 'aiworker_socket_clients')).toBe(0);
  });

  it('answers only the metrics token (401), and 404 where metrics are off', async () => {
    const get = async (url: string, authorization?: string) => {
      const res = await fetch(`${url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      return { status: res.status, body: errorBodySchema.parse(await res.json()).error };
    };
    for (const authorization of [
      undefined,
      `Bearer ${metricsToken}x`,
      `Bearer ${api.adminToken}`,
    ]) {
      expect(await get(api.url, authorization)).toEqual({
        status: 401,
        body: {
          code: 'unauthorized',
          message: 'send Authorization: Bearer <AIWORKER_METRICS_TOKEN> to read the metrics',
          retryable: false,
          requestId: expect.any(String),
        },
      });
    }
    expect(await get(metricsOff.url, `Bearer ${metricsToken}`)).toEqual({
      status: 404,
      body: {
        code: 'not_found',
        message: 'metrics are off: set AIWORKER_METRICS_TOKEN to turn them on',
        retryable: false,
        requestId: expect.any(String),
      },
    });
  });
});
