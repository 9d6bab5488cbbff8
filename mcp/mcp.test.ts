import { randomUUID } from 'node:crypto';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { apiClient } from '../test/support/http';
import { callTool, connectAgent } from '../test/support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';

describe('MCP tools over Streamable HTTP', () => {
  const taskQueue = uniqueTaskQueue('mcp');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue, leaseMs: 1500 });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  const project = async () =>
    (await http.post('/api/projects', { name: `mcp-${randomUUID()}` })).body.id as string;
  const agent = async (projectIds: string[]) => {
    const { body } = await http.post('/api/agents', { name: `agent-${randomUUID()}`, projectIds });
    return { id: body.agentId as string, client: await connectAgent(api.url, body.token) };
  };
  const task = async (projectId: string, title = 't') =>
    (await http.post('/api/tasks', { projectId, title, description: `do ${title}` })).body
      .taskId as string;

  it('lists the agent tools with descriptions and output schemas', async () => {
    const { client } = await agent([await project()]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'ask_user_question',
      'check_response',
      'get_next_task',
    ]);
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(60);
      expect(tool.outputSchema).toBeDefined();
    }
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
    await callTool(a.client, 'ask_user_question', { taskId, question: 'first?' });
    expect(
      await callTool(a.client, 'ask_user_question', { taskId, question: 'second?' }),
    ).toMatchObject({
      isError: true,
      text: expect.stringMatching(/already waiting for an answer to question/),
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
  });

  it('gives a silent agent’s task to another agent when its lease ends, and refuses the first', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const taskId = await task(projectId, 'leased');
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
});
