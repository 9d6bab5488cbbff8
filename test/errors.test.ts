import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { newTaskInput } from '../api/tasks/create';
import { ADMIN_ACTOR } from '../contracts/actor';
import { closeDb, createDb } from '../db/client';
import { insertNewTasks } from '../db/task-starts';
import type { Db } from '../db/client';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { untilProjected } from './support/projected';
import { callTool, connectAgent } from './support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Text a client must never see: library messages, source paths, stack frames. */
const LEAKS =
  /prisma|invocation|\.ts:\d|\/work\/|node_modules|\bat [\w.<>]+ \(|grpc|temporalio|ECONNREFUSED|sql/i;

/** The log lines (parsed) that name a request id. */
function linesOf(api: TestApi, requestId: string): Array<Record<string, unknown>> {
  return api
    .logs()
    .split('\n')
    .filter((l) => l.includes(requestId))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** pino's levels: 40 warn, 50 error. */
const WARN = 40;

/**
 * Errors are a contract: a stable code, a plain message, whether to retry and the request id;
 * never a library's text; every 5xx and every failed MCP call logged once with its request id.
 */
describe('errors clients see', () => {
  const taskQueue = uniqueTaskQueue('errors');
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let projectId: string;
  let agent: Client;
  let agentId: string;
  let realDb: Db;
  const unreachableDb = createDb('mysql://root@127.0.0.1:1/nothing');

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    admin = apiClient(api.url, api.adminToken);
    realDb = api.deps.db;
    projectId = (await createProject(admin, { name: `errors-${randomUUID()}` })).id;
    const registered = await admin.post('/api/agents', { name: 'errors', projectIds: [projectId] });
    agentId = registered.body.agentId;
    agent = await connectAgent(api.url, registered.body.token);
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await worker?.stop();
    await api?.close();
    await closeDb(unreachableDb);
  });

  it('names every answer with a request id, and takes a plain one from the client', async () => {
    const mine = await fetch(`${api.url}/api/nothing-here`, {
      headers: { authorization: `Bearer ${api.adminToken}`, 'x-request-id': 'client-id.42' },
    });
    expect(mine.headers.get('x-request-id')).toBe('client-id.42');
    expect(await mine.json()).toEqual({
      error: {
        code: 'not_found',
        message: 'no route GET /api/nothing-here',
        retryable: false,
        requestId: 'client-id.42',
      },
    });
    // An id that is not a plain token is replaced, not echoed (nor logged).
    const odd = await fetch(`${api.url}/api/nothing-here`, {
      headers: { authorization: `Bearer ${api.adminToken}`, 'x-request-id': 'a b <script>' },
    });
    const id = odd.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await odd.json()) as { error: { requestId: string } }).error.requestId).toBe(id);
  });

  it('gives MCP calls the SDK refuses before a tool runs a stable code, logged once', async () => {
    const bad = await callTool(agent, 'heartbeat', { taskId: 'x' });
    expect(bad).toMatchObject({
      isError: true,
      refusal: {
        code: 'invalid_arguments',
        message: bad.text,
        retryable: false,
        requestId: expect.any(String),
      },
    });
    expect(bad.text).toMatch(/^invalid arguments for heartbeat: .*taskId/s);
    expect(bad.text).not.toMatch(/MCP error|Input validation error/);
    const { requestId } = bad.refusal as unknown as { requestId: string };
    expect(linesOf(api, requestId).filter((l) => Number(l.level) >= WARN)).toHaveLength(1);

    const unknown = await callTool(agent, 'delete_everything', {});
    expect(unknown).toMatchObject({
      isError: true,
      text: 'there is no tool delete_everything; tools/list names them all',
      refusal: { code: 'unknown_tool', retryable: false },
    });

    const read = await agent.readResource({ uri: 'aiworker://nothing/here' }).then(
      () => null,
      (err: { data?: unknown }) => err,
    );
    expect(read?.data).toEqual({
      code: 'invalid_arguments',
      message: expect.stringContaining('aiworker://nothing/here'),
      retryable: false,
      requestId: expect.any(String),
    });
  });

  it('answers a change to a task whose workflow has not started yet with 503, to retry', async () => {
    // As when Temporal was away at its creation: the row and its start are written, the start is
    // left to the worker's sweep (30 s later at the earliest).
    const input = newTaskInput(
      api.deps,
      randomUUID(),
      { projectId, title: 'not started', description: '', priority: 0 },
      ADMIN_ACTOR,
    );
    await insertNewTasks(realDb, [input]);
    const res = await admin.post(`/api/tasks/${input.task.id}/cancel`);
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({
      code: 'not_ready',
      message:
        "the task's workflow has not started yet (it starts within a minute); try again shortly",
      retryable: true,
      retryAfterSeconds: 10,
      requestId: expect.any(String),
    });
    expect((await admin.get(`/api/tasks/${input.task.id}`)).body.state).toBe('backlog');
    // So is a merge naming it: not "finished".
    const merge = await admin.post('/api/merge', { taskIds: [input.task.id] });
    expect(merge.status).toBe(503);
    expect(merge.body.error).toMatchObject({ code: 'not_ready', retryAfterSeconds: 10 });

    // A task whose workflow ran and was ended from outside (an operator's terminate) is no such
    // case: it can no longer change.
    const ended = (
      await admin.post('/api/tasks', { projectId, title: 'terminated', description: '' })
    ).body.taskId as string;
    await untilProjected(realDb, [ended]);
    await api.deps.temporal.client.workflow
      .getHandle(`task-${ended}`)
      .terminate('unreplayable history');
    const refused = await admin.post(`/api/tasks/${ended}/cancel`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe('the task is backlog and can no longer change');
  });

  describe('with the database away', () => {
    beforeAll(() => {
      api.deps.db = unreachableDb;
    });
    afterAll(() => {
      api.deps.db = realDb;
    });

    it('answers REST with 503 not_ready, when to retry, and no driver text; logged once', async () => {
      const res = await fetch(`${api.url}/api/tasks?projectId=${projectId}`, {
        headers: { authorization: `Bearer ${api.adminToken}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      const text = await res.text();
      expect(text).not.toMatch(LEAKS);
      const requestId = res.headers.get('x-request-id')!;
      expect(JSON.parse(text)).toEqual({
        error: {
          code: 'not_ready',
          message: 'the database is unreachable; try again shortly',
          retryable: true,
          retryAfterSeconds: 2,
          requestId,
        },
      });
      const logged = linesOf(api, requestId).filter((l) => Number(l.level) >= WARN);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ status: 503, code: 'not_ready' });
    });

    it('answers a socket subscription with not_ready and a request id the log names', async () => {
      const board = await TestBoard.connect(api.url, api.adminToken);
      try {
        const ack = (await board.subscribe(projectId)) as { error: { requestId: string } };
        expect(ack).toEqual({
          error: {
            code: 'not_ready',
            message: 'the database is unreachable; try again shortly',
            retryable: true,
            retryAfterSeconds: 2,
            requestId: expect.any(String),
          },
        });
        const logged = linesOf(api, ack.error.requestId).filter((l) => Number(l.level) >= WARN);
        expect(logged).toHaveLength(1);
        expect(JSON.stringify(ack)).not.toMatch(LEAKS);
      } finally {
        board.close();
      }
    });

    it('answers MCP tools and resources with unavailable, retryable, and no driver text', async () => {
      for (const [tool, args] of [
        ['get_next_task', {}],
        ['list_my_tasks', {}],
        ['heartbeat', { taskId: randomUUID() }],
        ['ask_user_question', { taskId: randomUUID(), question: 'which colour?' }],
      ] as const) {
        const res = await callTool(agent, tool, args);
        expect({ tool, isError: res.isError, refusal: res.refusal }).toEqual({
          tool,
          isError: true,
          refusal: {
            code: 'unavailable',
            message: res.text,
            retryable: true,
            retryAfterSeconds: 2,
            requestId: expect.any(String),
          },
        });
        expect(res.text).not.toMatch(LEAKS);
        const { requestId } = res.refusal as unknown as { requestId: string };
        const logged = linesOf(api, requestId).filter((l) => Number(l.level) >= WARN);
        expect({ tool, logged: logged.length }).toEqual({ tool, logged: 1 });
      }
      const read = await agent.readResource({ uri: `aiworker://tasks/${randomUUID()}` }).then(
        () => null,
        (err: { code: number; message: string; data?: { code: string; retryable: boolean } }) =>
          err,
      );
      expect(read?.data).toMatchObject({ code: 'unavailable', retryable: true });
      expect(read?.message).not.toMatch(LEAKS);
      const listed = await agent.listResources().then(
        () => null,
        (err: { data?: { code: string } }) => err,
      );
      expect(listed?.data).toMatchObject({ code: 'unavailable' });
    });
  });

  it('answers a write that cannot finish within 10 s with 503 timed_out', async () => {
    // No worker polls this API's task queue: the new project's workflow never runs.
    const stalled = await startTestApi({ taskQueue: uniqueTaskQueue('nobody') });
    try {
      const started = Date.now();
      const res = await apiClient(stalled.url, stalled.adminToken).post('/api/projects', {
        name: `never-created-${randomUUID()}`,
      });
      const tookMs = Date.now() - started;
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'timed_out', retryable: true });
      expect(res.body.error.message).toMatch(/within 10 s.*read the resource again/);
      // Answered by the deadline (with room for a loaded machine), not by the client giving up.
      expect(tookMs).toBeLessThan(20_000);
      expect(
        linesOf(stalled, res.body.error.requestId).filter((l) => Number(l.level) >= WARN),
      ).toHaveLength(1);
    } finally {
      await stalled.close();
    }
  }, 60_000);

  it('tells an agent whose claim got no answer so, and its next call sorts it out', async () => {
    const created = await admin.post('/api/tasks', {
      projectId,
      title: 'claimed while no worker runs',
      description: 'the claim cannot be confirmed',
    });
    expect(created.status).toBe(201);
    // The task's workflow runs (its first workflow task is done) when its worker goes away.
    await untilProjected(api.deps.db, [created.body.taskId]);
    await worker!.stop();
    worker = undefined;
    const unknown = await callTool(agent, 'get_next_task', {});
    expect(unknown.isError).toBe(true);
    expect(unknown.refusal).toMatchObject({ code: 'unavailable', retryable: true });
    expect(unknown.text).toMatch(/could not confirm it in time.*get_next_task again/);
    expect(unknown.text).not.toMatch(LEAKS);

    worker = await startTestWorker({ taskQueue });
    // The claim was sent too long ago to count: the retry takes the task afresh, exactly once.
    const retried = await callTool(agent, 'get_next_task', {});
    expect(retried.isError).toBe(false);
    expect(retried.data.task).toMatchObject({ id: created.body.taskId });
    const held = await api.deps.db.task.findUniqueOrThrow({ where: { id: created.body.taskId } });
    expect(held).toMatchObject({ state: 'in_progress', assignedAgentId: agentId });
    // The agent starts on it; it holds that one task and nothing more.
    expect((await callTool(agent, 'heartbeat', { taskId: created.body.taskId })).isError).toBe(
      false,
    );
    const again = await callTool(agent, 'get_next_task', {});
    expect(again.data.task).toBeNull();
  }, 90_000);
});
