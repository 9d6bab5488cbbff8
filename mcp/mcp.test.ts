import { randomUUID } from 'node:crypto';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { apiClient } from '../test/support/http';
import { AGENT_TOOLS, callTool, connectAgent } from '../test/support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';

describe('MCP tools over Streamable HTTP', () => {
  const taskQueue = uniqueTaskQueue('mcp');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  /** Same worker and database; tasks created through these have a 1.5 s and a 6 s lease. */
  let shortLease: TestApi;
  let sixSecondLease: TestApi;
  let http: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    shortLease = await startTestApi({ taskQueue, leaseMs: 1500 });
    sixSecondLease = await startTestApi({ taskQueue, leaseMs: 6000 });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await shortLease.close();
    await sixSecondLease.close();
    await api.close();
    await worker.stop();
  });

  const project = async () =>
    (await http.post('/api/projects', { name: `mcp-${randomUUID()}` })).body.id as string;
  const agent = async (projectIds: string[]) => {
    const { body } = await http.post('/api/agents', { name: `agent-${randomUUID()}`, projectIds });
    return { id: body.agentId as string, client: await connectAgent(api.url, body.token) };
  };
  const task = async (projectId: string, title = 't', through = api) =>
    (
      await apiClient(through.url, through.adminToken).post('/api/tasks', {
        projectId,
        title,
        description: `do ${title}`,
      })
    ).body.taskId as string;

  it('lists the agent tools with descriptions and output schemas', async () => {
    const { client } = await agent([await project()]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(AGENT_TOOLS);
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(60);
      expect(tool.outputSchema).toBeDefined();
      expect(tool.annotations).toEqual(
        expect.objectContaining({
          readOnlyHint: expect.any(Boolean),
          destructiveHint: expect.any(Boolean),
          idempotentHint: expect.any(Boolean),
          openWorldHint: expect.any(Boolean),
        }),
      );
    }
    // The lease is stated where an agent decides how often to call heartbeat.
    expect(tools.find((t) => t.name === 'heartbeat')!.description).toContain(
      'Your lease is 30 minutes',
    );
    // A refusal carries a stable code besides its words.
    const refused = await callTool(client, 'heartbeat', { taskId: randomUUID() });
    expect(refused).toMatchObject({
      isError: true,
      refusal: { code: 'unknown_task', retryable: false },
    });
    await client.close();
  });

  it('assigns each task to exactly one of many agents asking at once', async () => {
    const projectId = await project();
    const ids = new Set<string>();
    for (let i = 0; i < 40; i += 1) ids.add(await task(projectId, `task ${i}`));
    const agents = await Promise.all(Array.from({ length: 12 }, () => agent([projectId])));
    const claims: Array<{ agentId: string; taskId: string }> = [];
    await Promise.all(
      agents.map(async (a) => {
        for (;;) {
          const res = await callTool(a.client, 'get_next_task', {});
          expect(res.isError).toBe(false);
          if (!res.data.task) return;
          claims.push({ agentId: a.id, taskId: res.data.task.id });
          // Working on it (any call on the task) tells aiworker the agent has it.
          await callTool(a.client, 'heartbeat', { taskId: res.data.task.id });
        }
      }),
    );
    expect(claims).toHaveLength(40);
    expect(new Set(claims.map((c) => c.taskId))).toEqual(ids);
    for (const c of claims) {
      expect((await http.get(`/api/tasks/${c.taskId}`)).body).toMatchObject({
        state: 'in_progress',
        assignedAgentId: c.agentId,
      });
    }
    await Promise.all(agents.map((a) => a.client.close()));
  });

  it('passes over the tasks other agents are claiming and takes the first free one', async () => {
    const projectId = await project();
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push(await task(projectId, `task ${i}`));
    // Another agent's claims of the two oldest are under way: it holds their reservations.
    const reserve = (taskId: string) =>
      api.deps.redis.set(`claim:${taskId}`, randomUUID(), 'PX', 60_000);
    await reserve(ids[0]!);
    await reserve(ids[1]!);
    const a = await agent([projectId]);
    const first = await callTool(a.client, 'get_next_task', {});
    expect(first.data.task.id).toBe(ids[2]);
    await callTool(a.client, 'heartbeat', { taskId: ids[2]! });
    // Every task still free is being claimed by others: nothing for this agent, and nothing taken.
    await reserve(ids[3]!);
    expect((await callTool(a.client, 'get_next_task', {})).data.task).toBeNull();
    // Those claims ended without taking the tasks: the oldest comes first again.
    await api.deps.redis.del(`claim:${ids[0]}`, `claim:${ids[1]}`, `claim:${ids[3]}`);
    const second = await callTool(a.client, 'get_next_task', {});
    expect(second.data.task.id).toBe(ids[0]);
    const states = await Promise.all(
      ids.map(async (id) => (await http.get(`/api/tasks/${id}`)).body.state as string),
    );
    expect(states).toEqual(['in_progress', 'backlog', 'in_progress', 'backlog']);
    await a.client.close();
  });
  it('lists the tasks an agent holds, with the open question and the state of each', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const first = await task(projectId, 'first');
    const second = await task(projectId, 'second');
    expect((await callTool(a.client, 'list_my_tasks', {})).data).toEqual({ tasks: [] });
    for (let i = 0; i < 2; i += 1) {
      const got = await callTool(a.client, 'get_next_task', { projectId });
      await callTool(a.client, 'heartbeat', { taskId: got.data.task.id });
    }
    const asked = await callTool(a.client, 'ask_user_question', {
      taskId: first,
      question: 'how?',
    });
    const listed = await callTool(a.client, 'list_my_tasks', {});
    expect(listed.isError).toBe(false);
    expect(listed.data.tasks).toEqual([
      expect.objectContaining({
        id: first,
        title: 'first',
        state: 'needs_input',
        openQuestion: { questionId: asked.data.questionId, question: 'how?' },
        feedback: [],
      }),
      expect.objectContaining({ id: second, state: 'in_progress', openQuestion: null }),
    ]);
    // Another agent sees none of them.
    const b = await agent([projectId]);
    expect((await callTool(b.client, 'list_my_tasks', {})).data).toEqual({ tasks: [] });
  });

  it('keeps a client that asked for progress informed while it waits (server-sent events)', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const progress: Array<{ progress: number; message?: string }> = [];
    const result = await a.client.callTool(
      { name: 'get_next_task', arguments: { projectId, waitSeconds: 12 } },
      undefined,
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
    );
    expect(result.structuredContent).toEqual({ task: null });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatchObject({
      progress: 1,
      message: expect.stringMatching(/^waiting for a task/),
    });
  });

  it('waits for a task to appear and returns it at once', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const waiting = callTool(a.client, 'get_next_task', { waitSeconds: 30 });
    await new Promise((r) => setTimeout(r, 300));
    const taskId = await task(projectId, 'late');
    const res = await waiting;
    expect(res.data.task).toMatchObject({
      id: taskId,
      title: 'late',
      projectId,
      branch: `task-${taskId}-feature`,
      feedback: [],
      answers: [],
    });
    // The board's agents view: who works on what, and when it was last seen.
    const listed = (await http.get('/api/agents')).body.agents.find(
      (x: { id: string }) => x.id === a.id,
    );
    expect(listed).toMatchObject({
      status: 'working',
      currentTaskId: taskId,
      lastSeenAt: expect.any(String),
    });
    await a.client.close();
  });

  it('asks, and check_response returns the moment a person answers', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const taskId = await task(projectId, 'question');
    expect((await callTool(a.client, 'get_next_task', {})).data.task.id).toBe(taskId);
    const asked = await callTool(a.client, 'ask_user_question', {
      taskId,
      question: 'Which database?',
    });
    expect(asked.data).toEqual({ questionId: expect.any(String) });
    expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('needs_input');

    expect((await callTool(a.client, 'check_response', { taskId })).data).toEqual({
      answered: false,
      questionId: asked.data.questionId,
    });
    const waiting = callTool(a.client, 'check_response', {
      taskId,
      questionId: asked.data.questionId,
      waitSeconds: 30,
    });
    await new Promise((r) => setTimeout(r, 300));
    await http.post(`/api/tasks/${taskId}/respond`, { answer: 'MariaDB' });
    expect((await waiting).data).toEqual({
      answered: true,
      answer: 'MariaDB',
      questionId: asked.data.questionId,
    });
    await a.client.close();
  });

  it('refuses what is not the agent’s to do, with messages the model can act on', async () => {
    const projectId = await project();
    const other = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const taskId = await task(projectId, 'mine');
    await callTool(a.client, 'get_next_task', {});

    const notMine = await callTool(b.client, 'ask_user_question', { taskId, question: '?' });
    expect(notMine).toMatchObject({
      isError: true,
      text: `task ${taskId} is not assigned to you; your tasks are none (take one with get_next_task)`,
    });
    const unknown = randomUUID();
    expect(await callTool(a.client, 'check_response', { taskId: unknown })).toMatchObject({
      isError: true,
      text: `there is no task ${unknown}`,
    });
    expect(await callTool(a.client, 'get_next_task', { projectId: other })).toMatchObject({
      isError: true,
      text: expect.stringContaining(`project ${other} is not one of your projects`),
    });
    const first = await callTool(a.client, 'ask_user_question', { taskId, question: 'first?' });
    expect(
      await callTool(a.client, 'ask_user_question', { taskId, question: 'second?' }),
    ).toMatchObject({
      isError: true,
      text: expect.stringMatching(/already waiting for an answer to question/),
    });
    const unknownQuestion = randomUUID();
    expect(
      await callTool(a.client, 'check_response', { taskId, questionId: unknownQuestion }),
    ).toMatchObject({
      isError: true,
      text: `task ${taskId} has no question ${unknownQuestion}; your latest question on it is ${first.data.questionId} (leave out questionId to get it)`,
    });
    for (const [tool, args] of [
      ['create_branch', { taskId }],
      ['create_pr', { taskId, title: 'mine now' }],
      ['trigger_preview', { taskId }],
    ] as const) {
      expect(await callTool(b.client, tool, args)).toMatchObject({
        isError: true,
        text: `task ${taskId} is not assigned to you; your tasks are none (take one with get_next_task)`,
      });
    }
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'needs_input',
      assignedAgentId: a.id,
      branch: null,
      prUrl: null,
      previewUrl: null,
    });
    const badArgs = await a.client
      .callTool({ name: 'check_response', arguments: { taskId: 'nope' } })
      .catch((err: Error) => ({ isError: true, err }));
    expect(badArgs.isError).toBe(true);
    await a.client.close();
    await b.client.close();
  });

  it('refuses callers without an agent token', async () => {
    await expect(connectAgent(api.url, 'aw_wrong')).rejects.toThrow();
    const res = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('answers transport errors as JSON-RPC: bad JSON, a wrong method', async () => {
    const { body: a } = await http.post('/api/agents', {
      name: `hygiene-${randomUUID()}`,
      projectIds: [await project()],
    });
    const headers = {
      authorization: `Bearer ${a.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const bad = await fetch(`${api.url}/mcp`, { method: 'POST', headers, body: '{"jsonrpc":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    const get = await fetch(`${api.url}/mcp`, { headers });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32000, data: { code: 'method_not_allowed' } },
    });
    // Headers the MCP SDK would refuse in its own words are refused in aiworker's.
    const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const jsonOnly = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, accept: 'application/json' },
      body: ping,
    });
    expect(jsonOnly.status).toBe(406);
    expect(await jsonOnly.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: expect.stringContaining('Accept: application/json, text/event-stream'),
        data: { code: 'not_acceptable', retryable: false, requestId: expect.any(String) },
      },
    });
    const oldVersion = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': '1999-01-01' },
      body: ping,
    });
    expect(oldVersion.status).toBe(400);
    expect(await oldVersion.json()).toMatchObject({
      error: {
        code: -32600,
        message: expect.stringMatching(/^MCP-Protocol-Version "1999-01-01" is not one/),
        data: { code: 'validation_failed', retryable: false },
      },
    });
    // An initialization negotiates in its body, whatever the header says.
    const initialize = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': '1999-01-01' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'initialize',
        params: {
          protocolVersion: LATEST_PROTOCOL_VERSION,
          capabilities: {},
          clientInfo: { name: 'test', version: '1' },
        },
      }),
    });
    expect(initialize.status).toBe(200);
    const current = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
      body: ping,
    });
    expect(current.status).toBe(200);
  });

  it('gives a silent agent’s task to another agent when its lease ends, and refuses the first', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const taskId = await task(projectId, 'leased', shortLease);
    expect((await callTool(a.client, 'get_next_task', {})).data.task.id).toBe(taskId);
    // a says nothing for longer than the lease (1.5 s here); b waits for work meanwhile.
    const taken = await callTool(b.client, 'get_next_task', { waitSeconds: 30 });
    expect(taken.data.task.id).toBe(taskId);
    expect((await http.get(`/api/tasks/${taskId}`)).body.assignedAgentId).toBe(b.id);
    expect(
      await callTool(a.client, 'ask_user_question', { taskId, question: 'still mine?' }),
    ).toMatchObject({
      isError: true,
      text: expect.stringContaining(`task ${taskId} is not assigned to you`),
    });
    await a.client.close();
    await b.client.close();
  });

  it('keeps a task while the agent heartbeats, and lets it give the task back', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const taskId = await task(projectId, 'kept', sixSecondLease);
    await callTool(a.client, 'get_next_task', {});
    for (let i = 0; i < 5; i += 1) {
      // More than the whole lease passes, with a sign of life every quarter lease.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await callTool(a.client, 'heartbeat', { taskId })).data).toEqual({
        taskId,
        state: 'in_progress',
      });
    }
    const released = await callTool(a.client, 'release_task', { taskId, reason: 'cannot finish' });
    expect(released).toMatchObject({
      isError: false,
      data: { taskId, state: 'backlog' },
    });
    const task2 = await http.get(`/api/tasks/${taskId}`);
    expect(task2.body).toMatchObject({ state: 'backlog', assignedAgentId: null });
    expect((await callTool(a.client, 'release_task', { taskId })).isError).toBe(true);
    // The boards saw the agent start and stop, as events of the log with their seq.
    const log = (await http.get(`/api/projects/${projectId}/events?after=0`)).body.events;
    expect(
      log
        .filter((e: { type: string }) => e.type === 'agent:status')
        .map((e: { data: Record<string, unknown> }) => e.data),
    ).toEqual([
      expect.objectContaining({
        agentId: a.id,
        status: 'working',
        currentTaskId: taskId,
        seq: expect.any(Number),
      }),
      expect.objectContaining({ agentId: a.id, status: 'idle', currentTaskId: null }),
    ]);
    await a.client.close();
  });

  it('posts progress notes to the board and refuses them from anyone else', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const taskId = await task(projectId, 'progress');
    await callTool(a.client, 'get_next_task', {});
    expect(
      await callTool(a.client, 'report_progress', { taskId, message: 'tests pass' }),
    ).toMatchObject({ isError: false, data: { taskId } });
    expect(
      await callTool(b.client, 'report_progress', { taskId, message: 'mine now' }),
    ).toMatchObject({ isError: true, text: expect.stringContaining('is not assigned to you') });
    const { body } = await http.get(`/api/tasks/${taskId}/events`);
    const notes = body.events.filter((e: { type: string }) => e.type === 'task:progress');
    expect(notes).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ message: 'tests pass', agentId: a.id }),
      }),
    ]);
    await a.client.close();
    await b.client.close();
  });

  describe('on a task a person cancelled', () => {
    const cancelled = (taskId: string) =>
      `task ${taskId} was cancelled: stop working on it and take another with get_next_task`;

    /** A task taken by a new agent, with a question open, then cancelled by a person. */
    const cancelledTask = async () => {
      const projectId = await project();
      const a = await agent([projectId]);
      const taskId = await task(projectId, 'cancelled');
      expect((await callTool(a.client, 'get_next_task', {})).data.task.id).toBe(taskId);
      await callTool(a.client, 'ask_user_question', { taskId, question: 'keep going?' });
      const res = await http.post(`/api/tasks/${taskId}/cancel`, { reason: 'not needed' });
      expect(res.body).toMatchObject({ state: 'cancelled', assignedAgentId: a.id });
      return { a, taskId };
    };

    it('refuses every tool of the agent with a message saying so, and changes nothing', async () => {
      const { a, taskId } = await cancelledTask();
      const before = (await http.get(`/api/tasks/${taskId}`)).body;
      const eventsBefore = (await http.get(`/api/tasks/${taskId}/events`)).body.events;
      const calls: Array<[string, Record<string, unknown>]> = [
        ['ask_user_question', { taskId, question: 'still there?' }],
        ['report_progress', { taskId, message: 'almost done' }],
        ['heartbeat', { taskId }],
        ['create_branch', { taskId }],
        ['create_pr', { taskId }],
        ['trigger_preview', { taskId }],
        ['release_task', { taskId, reason: 'giving up' }],
        ['check_response', { taskId }],
        ['check_response', { taskId, waitSeconds: 5 }],
      ];
      for (const [tool, args] of calls) {
        expect({ tool, ...(await callTool(a.client, tool, args)) }).toMatchObject({
          tool,
          isError: true,
          text: cancelled(taskId),
        });
      }
      expect((await http.get(`/api/tasks/${taskId}`)).body).toEqual(before);
      expect((await http.get(`/api/tasks/${taskId}/events`)).body.events).toEqual(eventsBefore);
      await a.client.close();
    });

    it('wakes a check_response waiting for an answer and refuses it', async () => {
      const projectId = await project();
      const a = await agent([projectId]);
      const taskId = await task(projectId, 'cancelled while waiting');
      await callTool(a.client, 'get_next_task', {});
      const asked = await callTool(a.client, 'ask_user_question', { taskId, question: 'which?' });
      const waiting = callTool(a.client, 'check_response', {
        taskId,
        questionId: asked.data.questionId,
        waitSeconds: 30,
      });
      await new Promise((r) => setTimeout(r, 300));
      await http.post(`/api/tasks/${taskId}/cancel`);
      expect(await waiting).toMatchObject({ isError: true, text: cancelled(taskId) });
      await a.client.close();
    });

    it('says so when the update reaches the closed workflow before the read model shows the cancel', async () => {
      const { a, taskId } = await cancelledTask();
      // The read model says the task is still being worked on, as it would for a call that read
      // it just before the cancel: the update then meets the task's closed workflow.
      await api.deps.db.task.update({ where: { id: taskId }, data: { state: 'in_progress' } });
      try {
        for (const [tool, args] of [
          ['report_progress', { taskId, message: 'almost done' }],
          ['release_task', { taskId }],
        ] as const) {
          expect(await callTool(a.client, tool, args)).toMatchObject({
            isError: true,
            text: cancelled(taskId),
          });
        }
      } finally {
        await api.deps.db.task.update({ where: { id: taskId }, data: { state: 'cancelled' } });
      }
      await a.client.close();
    });
  });
});
