import { createHash, randomUUID } from 'node:crypto';
import { startTestApi } from '../../test/support/api';
import type { TestApi } from '../../test/support/api';
import { TestBoard } from '../../test/support/board';
import { apiClient } from '../../test/support/http';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';

describe('agent registration', () => {
  const taskQueue = uniqueTaskQueue('agents');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let projectId: string;
  let otherProjectId: string;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    admin = apiClient(api.url, api.adminToken);
    projectId = (await admin.post('/api/projects', { name: `agents-${randomUUID()}` })).body.id;
    otherProjectId = (await admin.post('/api/projects', { name: `agents-other-${randomUUID()}` }))
      .body.id;
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  it('gives the token once and stores only its hash', async () => {
    const res = await admin.post('/api/agents', { name: 'claude-1', projectIds: [projectId] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      agentId: expect.any(String),
      token: expect.stringMatching(/^aw_/),
      name: 'claude-1',
      projectIds: [projectId],
    });
    const row = await api.deps.db.agent.findUniqueOrThrow({ where: { id: res.body.agentId } });
    expect(row.tokenHash).toBe(createHash('sha256').update(res.body.token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(res.body.token);

    // Other test files register agents in the same database: walk the pages until it shows.
    let list = await admin.get('/api/agents?limit=500');
    const pages = [list.body];
    while (list.body.next) {
      list = await admin.get(`/api/agents?limit=500&after=${list.body.next}`);
      pages.push(list.body);
    }
    const listed = pages
      .flatMap((page) => page.agents)
      .find((a: { id: string }) => a.id === res.body.agentId);
    expect(listed).toEqual({
      id: res.body.agentId,
      name: 'claude-1',
      projectIds: [projectId],
      createdAt: expect.any(String),
      lastSeenAt: null,
      expiresAt: null,
      revokedAt: null,
      rotatedAt: null,
      status: 'offline',
      currentTaskId: null,
    });
    expect(JSON.stringify(pages)).not.toContain(res.body.token);
    expect(api.logs()).not.toContain(res.body.token);
  });

  it('lets an agent authenticate, but keeps people-only routes and other projects from it', async () => {
    const { body } = await admin.post('/api/agents', { name: 'claude-2', projectIds: [projectId] });
    const asAgent = apiClient(api.url, body.token);
    expect((await asAgent.get('/api/session')).body).toEqual({
      principal: {
        kind: 'agent',
        id: body.agentId,
        agentId: body.agentId,
        name: 'claude-2',
        projectIds: [projectId],
      },
    });
    const id = randomUUID();
    for (const call of [
      () => asAgent.get('/api/tasks'),
      () => asAgent.post('/api/agents', { name: 'x' }),
      () => asAgent.get('/api/agents'),
      () => asAgent.get('/api/projects'),
      () => asAgent.post('/api/projects', { name: 'x' }),
      () => asAgent.post('/api/tasks', { projectId, title: 't', description: 'd' }),
      () => asAgent.get(`/api/tasks/${id}`),
      () => asAgent.get(`/api/tasks/${id}/events`),
      () => asAgent.get(`/api/projects/${projectId}/events?after=0`),
      () => asAgent.post(`/api/tasks/${id}/respond`, { answer: 'a' }),
      () => asAgent.post(`/api/tasks/${id}/approve`),
      () => asAgent.post(`/api/tasks/${id}/request-changes`, { feedback: 'f' }),
      () => asAgent.post(`/api/tasks/${id}/cancel`),
      () => asAgent.post('/api/merge', { taskIds: [id] }),
      () => asAgent.get(`/api/merges?projectId=${projectId}`),
      () => asAgent.get(`/api/merges/${id}`),
    ]) {
      const res = await call();
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({
        code: 'forbidden',
        message: 'this route is for people; agents use the MCP endpoint at /mcp',
        retryable: false,
        requestId: expect.any(String),
      });
    }
    const board = await TestBoard.connect(api.url, body.token);
    try {
      expect(await board.subscribe(projectId)).toEqual({
        ok: true,
        replayed: 0,
        more: false,
        latestSeq: expect.any(Number),
      });
      expect(await board.subscribe(otherProjectId)).toEqual({
        error: {
          code: 'forbidden',
          message: `project ${otherProjectId} is not one of this agent's projects`,
          retryable: false,
        },
      });
    } finally {
      board.close();
    }
  });

  it('refuses bad registrations and leaves no agent behind', async () => {
    // Only this test's names are counted: other files register agents at the same time.
    const names = [`ghost-${randomUUID()}`, `x-${randomUUID()}`];
    const mine = () => api.deps.db.agent.count({ where: { name: { in: names } } });
    const unknown = randomUUID();
    const res = await admin.post('/api/agents', {
      name: names[0],
      projectIds: [projectId, unknown],
    });
    expect(res).toEqual({
      status: 404,
      body: {
        error: {
          code: 'not_found',
          message: `no project ${unknown}`,
          retryable: false,
          requestId: expect.any(String),
        },
      },
    });
    expect((await admin.post('/api/agents', {})).body.error).toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/name: /),
    });
    expect((await admin.post('/api/agents', { name: names[1], projectIds: ['nope'] })).status).toBe(
      400,
    );
    expect(
      (await apiClient(api.url, 'aw_not-a-real-token').post('/api/agents', { name: names[1] }))
        .status,
    ).toBe(401);
    expect(await mine()).toBe(0);
  });
});
