import { randomUUID } from 'node:crypto';
import { AGENT_CACHE_MS } from '../api/middleware/auth';
import { ApiProcess } from './support/api-process';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { within } from './support/within';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What each way in answers a token: REST, a new MCP session, a new socket. */
async function access(url: string, token: string) {
  const rest = (await apiClient(url, token).get('/api/session')).status;
  const mcp = await connectAgent(url, token).then(
    async (client) => {
      await client.close();
      return 'ok';
    },
    () => 'refused',
  );
  const socket = await TestBoard.connect(url, token).then(
    (board) => {
      board.close();
      return 'ok';
    },
    () => 'refused',
  );
  return { rest, mcp, socket };
}

const ALLOWED = { rest: 200, mcp: 'ok', socket: 'ok' };
const REFUSED = { rest: 401, mcp: 'refused', socket: 'refused' };

describe('agent tokens: explicit scope, revocation, rotation, expiry across API processes', () => {
  const taskQueue = uniqueTaskQueue('tokens');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let other: ApiProcess;
  let admin: ReturnType<typeof apiClient>;
  let projectId: string;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    // Open sockets' credentials are checked again often, so an expired token's socket ends soon.
    api = await startTestApi({ taskQueue, socketRecheckMs: 200 });
    other = new ApiProcess({
      AIWORKER_ADMIN_TOKEN: api.adminToken,
      TEMPORAL_TASK_QUEUE: taskQueue,
    });
    await other.start();
    admin = apiClient(api.url, api.adminToken);
    projectId = (await createProject(admin, { name: `tokens-${randomUUID()}` })).id;
  });
  afterAll(async () => {
    await other.stop();
    await api.close();
    await worker.stop();
  });

  it('requires an explicit scope: a list of projects, or "*" shown as such', async () => {
    const missing = await admin.post('/api/agents', { name: 'no-scope' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe(
      'invalid body: projectIds: required: a list of project ids, or "*" for every project',
    );
    expect((await admin.post('/api/agents', { name: 'empty', projectIds: [] })).body.error).toEqual(
      {
        code: 'validation_failed',
        message: 'invalid body: projectIds: name at least one project, or "*" for every project',
        retryable: false,
        requestId: expect.any(String),
      },
    );
    const past = await admin.post('/api/agents', {
      name: 'past',
      projectIds: [projectId],
      expiresAt: '2020-01-01T00:00:00Z',
    });
    expect(past.body.error.message).toBe('invalid body: expiresAt: must be in the future');

    const everywhere = await admin.post('/api/agents', { name: 'everywhere', projectIds: '*' });
    expect(everywhere.status).toBe(201);
    expect(everywhere.body.projectIds).toBe('*');
    const session = await apiClient(other.url, everywhere.body.token).get('/api/session');
    expect(session.body.principal.projectIds).toBe('*');
    const listed = await admin.get(`/api/agents/${everywhere.body.agentId}`);
    expect(listed.body).toMatchObject({ projectIds: '*', revokedAt: null, expiresAt: null });
  });

  it('revokes a token on every API process, ending its long poll and its socket', async () => {
    const { body: agent } = await admin.post('/api/agents', {
      name: 'to-revoke',
      projectIds: [projectId],
    });
    expect(await access(api.url, agent.token)).toEqual(ALLOWED);
    expect(await access(other.url, agent.token)).toEqual(ALLOWED);

    // Open connections on the other process: a socket and a long poll for work.
    const board = await TestBoard.connect(other.url, agent.token);
    expect(await board.subscribe(projectId)).toMatchObject({ ok: true });
    const client = await connectAgent(other.url, agent.token);
    const poll = callTool(client, 'get_next_task', { waitSeconds: 50 }).then(
      (r) => ({ ended: 'answered', r }),
      (err: Error) => ({ ended: 'failed', message: err.message }),
    );
    await sleep(300);

    const revoked = await admin.del(`/api/agents/${agent.agentId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: agent.agentId, revokedAt: expect.any(String) });
    const revokedAt = Date.now();

    // Answered as every refusal of /mcp is: a JSON-RPC error with aiworker's code in `data`.
    expect(await within('the long poll to end', 5_000, poll)).toMatchObject({
      ended: 'failed',
      message: expect.stringMatching(
        /"code":-32000,"message":"this agent token was revoked or replaced","data":\{"code":"unauthorized","retryable":false,"requestId"/,
      ),
    });
    await within(
      'the socket to be disconnected',
      5_000,
      (async () => {
        while (board.socket.connected) await sleep(20);
      })(),
    );
    board.close();
    // Past the bound, whatever the announcement did, both processes refuse the token everywhere.
    await sleep(Math.max(0, AGENT_CACHE_MS - (Date.now() - revokedAt)));
    expect(await access(api.url, agent.token)).toEqual(REFUSED);
    expect(await access(other.url, agent.token)).toEqual(REFUSED);

    // The agent stays listed, as revoked; revoking again changes nothing; rotating is refused.
    const again = await admin.del(`/api/agents/${agent.agentId}`);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    expect((await admin.get(`/api/agents/${agent.agentId}`)).body.status).toBe('revoked');
    expect((await admin.post(`/api/agents/${agent.agentId}/rotate`, {})).status).toBe(409);
  });

  it('gives the tasks a revoked agent was working on back to the backlog at once', async () => {
    const register = async (name: string) =>
      (await admin.post('/api/agents', { name, projectIds: [projectId] })).body;
    const gone = await register('leaving');
    const taskId = (
      await admin.post('/api/tasks', { projectId, title: 'held', description: '', priority: 900 })
    ).body.taskId;
    const client = await connectAgent(api.url, gone.token);
    expect((await callTool(client, 'get_next_task', { projectId })).data.task?.id).toBe(taskId);
    await client.close();
    expect((await admin.get(`/api/tasks/${taskId}`)).body.state).toBe('in_progress');

    const revoked = await admin.del(`/api/agents/${gone.agentId}`);
    expect(revoked.body.releasedTaskIds).toEqual([taskId]);
    expect((await admin.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'backlog',
      assignedAgentId: null,
    });
    // Sent again, the revocation answers the same agent and records nothing more.
    const again = await admin.del(`/api/agents/${gone.agentId}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ revokedAt: revoked.body.revokedAt, releasedTaskIds: [] });
    const revocations: unknown[] = [];
    for (let after = 0; ;) {
      const page = (await admin.get(`/api/audit?after=${after}&limit=500`)).body;
      revocations.push(
        ...page.entries.filter(
          (e: { action: string; detail?: { agentId?: string } }) =>
            e.action === 'agent.revoked' && e.detail?.agentId === gone.agentId,
        ),
      );
      if (page.next === null) break;
      after = page.next;
    }
    expect(revocations).toHaveLength(1);
    const successor = await connectAgent(api.url, (await register('successor')).token);
    expect((await callTool(successor, 'get_next_task', { projectId })).data.task?.id).toBe(taskId);
    await successor.close();
  });

  it('rotates a token: the new one works at once, the old one stops on every process', async () => {
    const { body: agent } = await admin.post('/api/agents', {
      name: 'to-rotate',
      projectIds: [projectId],
    });
    expect(await access(other.url, agent.token)).toEqual(ALLOWED);
    const rotated = await admin.post(`/api/agents/${agent.agentId}/rotate`, {});
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({
      agentId: agent.agentId,
      token: expect.stringMatching(/^aw_/),
    });
    expect(rotated.body.token).not.toBe(agent.token);
    const rotatedAt = Date.now();
    expect(await access(other.url, rotated.body.token)).toEqual(ALLOWED);
    await sleep(Math.max(0, AGENT_CACHE_MS - (Date.now() - rotatedAt)));
    expect(await access(api.url, agent.token)).toEqual(REFUSED);
    expect(await access(other.url, agent.token)).toEqual(REFUSED);
    expect(api.logs()).not.toContain(rotated.body.token);
    expect(other.logs()).not.toContain(rotated.body.token);
  });

  it('stops an expired token', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const { body: agent } = await admin.post('/api/agents', {
      name: 'short-lived',
      projectIds: [projectId],
      expiresAt,
    });
    expect(agent.expiresAt).toBe(expiresAt);
    // A socket opened before the expiry is disconnected after it, with nothing announced.
    const board = await TestBoard.connect(api.url, agent.token);
    expect(await board.subscribe(projectId)).toMatchObject({ ok: true });
    const ended = new Promise<string>((resolve) => board.socket.once('disconnect', resolve));
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now() + 50));
    expect(await access(other.url, agent.token)).toEqual(REFUSED);
    expect(await within('the expired token’s socket to end', 10_000, ended)).toBe(
      'io server disconnect',
    );
    board.close();
  });

  it('refuses bad revocations and rotations and changes nothing', async () => {
    const unknown = randomUUID();
    expect((await admin.del(`/api/agents/${unknown}`)).status).toBe(404);
    expect((await admin.post(`/api/agents/${unknown}/rotate`, {})).status).toBe(404);
    expect((await admin.del('/api/agents/nope')).status).toBe(400);
    const { body: agent } = await admin.post('/api/agents', {
      name: 'keep',
      projectIds: [projectId],
    });
    const bad = await admin.post(`/api/agents/${agent.agentId}/rotate`, { expiresAt: 'soon' });
    expect(bad.status).toBe(400);
    expect(await access(api.url, agent.token)).toEqual(ALLOWED);
    const asAgent = apiClient(api.url, agent.token);
    expect((await asAgent.del(`/api/agents/${agent.agentId}`)).status).toBe(403);
  });
});
