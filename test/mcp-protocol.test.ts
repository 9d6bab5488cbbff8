import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { AIWORKER_VERSION } from '../platform/version';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** A raw POST to /mcp with the Host and Origin given (fetch would not let Host be set). */
function rawPost(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: any }> {
  const target = new URL(`${url}/mcp`);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'raw', version: '0' },
    },
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('MCP beyond tools: resources, prompts, logging, completions, allowed hosts', () => {
  const taskQueue = uniqueTaskQueue('mcp-protocol');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let board: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    board = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  const project = async () =>
    (await createProject(board, { name: `protocol-${randomUUID()}` })).id as string;
  const agent = async (projectIds: string[]) => {
    const { body } = await board.post('/api/agents', { name: `agent-${randomUUID()}`, projectIds });
    return {
      id: body.agentId as string,
      token: body.token as string,
      client: await connectAgent(api.url, body.token),
    };
  };
  const task = async (projectId: string, title: string) =>
    (await board.post('/api/tasks', { projectId, title, description: `do ${title}` })).body
      .taskId as string;
  /** Takes the next task and acknowledges it, as an agent does. */
  const take = async (client: Client) => {
    const { data } = await callTool(client, 'get_next_task', {});
    await callTool(client, 'heartbeat', { taskId: data.task.id });
    return data.task.id as string;
  };

  it('declares what it serves, and no list that never changes as changing', async () => {
    const { client } = await agent([await project()]);
    expect(client.getServerVersion()).toEqual({ name: 'aiworker', version: AIWORKER_VERSION });
    expect(client.getServerCapabilities()).toEqual({
      tools: { listChanged: false },
      resources: { listChanged: false, subscribe: false },
      prompts: { listChanged: false },
      completions: {},
      logging: {},
    });
    await client.close();
  });

  it("lists and reads the agent's own tasks as resources, and no one else's", async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const first = await task(projectId, 'first');
    await task(projectId, 'second');
    const mine = [await take(a.client), await take(a.client)];
    expect(mine[0]).toBe(first);
    const asked = await callTool(a.client, 'ask_user_question', {
      taskId: first,
      question: 'Which colour?',
    });
    await board.post(`/api/tasks/${first}/respond`, { answer: 'Blue' });

    const { resourceTemplates } = await a.client.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      expect.objectContaining({ uriTemplate: 'aiworker://tasks/{id}', name: 'task' }),
    ]);
    const { resources } = await a.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(
      mine.map((id) => `aiworker://tasks/${id}`).sort(),
    );
    expect(resources.find((r) => r.uri.endsWith(first))).toMatchObject({
      name: 'first',
      mimeType: 'application/json',
    });
    expect((await b.client.listResources()).resources).toEqual([]);

    const read = await a.client.readResource({ uri: `aiworker://tasks/${first}` });
    const details = JSON.parse((read.contents[0] as { text: string }).text);
    expect(details).toMatchObject({
      id: first,
      title: 'first',
      description: 'do first',
      state: 'in_progress',
      questions: [{ questionId: asked.data.questionId, question: 'Which colour?', answer: 'Blue' }],
      feedback: [],
      pullRequest: null,
    });
    // Another agent's task, and a task that does not exist, read alike: not found.
    // So does an id that is not a task id at all.
    for (const uri of [
      `aiworker://tasks/${first}`,
      `aiworker://tasks/${randomUUID()}`,
      "aiworker://tasks/1' OR '1'='1",
    ]) {
      await expect(b.client.readResource({ uri })).rejects.toMatchObject({
        code: -32002,
        message: expect.stringMatching(/^MCP error -32002: no task of yours at aiworker:/),
        data: {
          code: 'unknown_task',
          retryable: false,
          requestId: expect.any(String),
          uri: expect.stringMatching(/^aiworker:\/\/tasks\//),
        },
      });
    }
    // Completion offers the agent's own tasks only.
    const completed = await a.client.complete({
      ref: { type: 'ref/resource', uri: 'aiworker://tasks/{id}' },
      argument: { name: 'id', value: '' },
    });
    expect(completed.completion.values.sort()).toEqual([...mine].sort());
    const none = await b.client.complete({
      ref: { type: 'ref/resource', uri: 'aiworker://tasks/{id}' },
      argument: { name: 'id', value: '' },
    });
    expect(none.completion.values).toEqual([]);
    await Promise.all([a.client.close(), b.client.close()]);
  });

  it('walks an agent through the flow with the work_on_task prompt', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const b = await agent([projectId]);
    const { prompts } = await a.client.listPrompts();
    expect(prompts).toEqual([
      expect.objectContaining({
        name: 'work_on_task',
        description: expect.stringMatching(/whole flow/),
        arguments: [expect.objectContaining({ name: 'taskId', required: false })],
      }),
    ]);
    const general = await a.client.getPrompt({ name: 'work_on_task', arguments: {} });
    const text = (general.messages[0]!.content as { text: string }).text;
    for (const step of [
      'get_next_task',
      'ask_user_question',
      'check_response',
      'create_branch',
      'create_pr',
      'trigger_preview',
      'heartbeat',
      'your lease is 30 minutes',
    ]) {
      expect(text).toContain(step);
    }

    const taskId = await task(projectId, 'prompted');
    await take(a.client);
    const specific = await a.client.getPrompt({ name: 'work_on_task', arguments: { taskId } });
    expect(specific.messages[0]!.content).toMatchObject({
      type: 'resource',
      resource: { uri: `aiworker://tasks/${taskId}`, mimeType: 'application/json' },
    });
    expect((specific.messages[1]!.content as { text: string }).text).toContain(taskId);
    // Another agent cannot get a prompt built from this task, and an id must be a task id.
    await expect(
      b.client.getPrompt({ name: 'work_on_task', arguments: { taskId } }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
    await expect(
      a.client.getPrompt({ name: 'work_on_task', arguments: { taskId: 'not-a-task' } }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
      data: { code: 'invalid_arguments', retryable: false },
    });
    await Promise.all([a.client.close(), b.client.close()]);
  });

  it('keeps the log level an agent sets, for its later calls, and sends at or above it', async () => {
    const projectId = await project();
    const a = await agent([projectId]);
    const taskId = await task(projectId, 'logged');
    const messages: LoggingMessageNotification['params'][] = [];
    a.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      messages.push(n.params);
    });
    // Never set: nothing is sent.
    await callTool(a.client, 'list_my_tasks', {});
    expect(messages).toEqual([]);

    await a.client.setLoggingLevel('info');
    // A later request (each POST has its own server) still knows the level.
    const got = await callTool(a.client, 'get_next_task', {});
    expect(got.data.task.id).toBe(taskId);
    expect(messages).toEqual([
      expect.objectContaining({
        level: 'info',
        logger: 'aiworker',
        data: expect.objectContaining({
          message: expect.stringContaining(`task ${taskId} is yours`),
        }),
      }),
    ]);
    // A refusal is logged as a warning with its code.
    await callTool(a.client, 'check_response', { taskId });
    expect(messages.at(-1)).toMatchObject({
      level: 'warning',
      data: { code: 'no_question' },
    });

    await a.client.setLoggingLevel('error');
    const before = messages.length;
    await callTool(a.client, 'check_response', { taskId });
    expect(messages).toHaveLength(before);
    await a.client.close();
  });

  it('answers only to allowed hosts and origins, before anything else', async () => {
    const port = new URL(api.url).port;
    const { token } = await agent([await project()]);
    const auth = { authorization: `Bearer ${token}` };
    const rebound = await rawPost(api.url, { ...auth, host: 'evil.example.com' });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: expect.stringContaining('evil.example.com'),
        data: { code: 'forbidden', retryable: false, requestId: expect.any(String) },
      },
    });
    // Refused before authentication: no token needed to be told.
    expect((await rawPost(api.url, { host: 'evil.example.com' })).status).toBe(403);
    const foreignPage = await rawPost(api.url, {
      ...auth,
      host: `localhost:${port}`,
      origin: 'http://evil.example.com',
    });
    expect(foreignPage.status).toBe(403);
    expect(
      (await rawPost(api.url, { ...auth, host: `localhost:${port}`, origin: 'null' })).status,
    ).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const ok = await rawPost(api.url, { ...auth, host, origin: `http://${host}` });
      expect(ok.status).toBe(200);
    }
  });
});
