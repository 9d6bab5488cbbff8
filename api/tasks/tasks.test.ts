import { randomUUID } from 'node:crypto';
import {
  askQuestionUpdate,
  claimTaskUpdate,
  projectionSyncedUpdate,
} from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { startTestApi } from '../../test/support/api';
import { registerTestAgent } from '../../test/support/agents';
import type { TestApi } from '../../test/support/api';
import { apiClient } from '../../test/support/http';
import { executeTaskUpdate } from '../../platform/task-updates';
import { untilProjected } from '../../test/support/projected';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';

/** Every refusal gets the documented 4xx and leaves nothing behind. */
describe('task and project routes refuse bad requests', () => {
  const taskQueue = uniqueTaskQueue('refusals');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let projectId: string;
  let taskId: string;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    projectId = (await http.post('/api/projects', { name: `refusals-${randomUUID()}` })).body.id;
    taskId = (await http.post('/api/tasks', { projectId, title: 'Existing', description: 'd' }))
      .body.taskId;
    // Its workflow has projected it (and logged its creation) before the refusals count.
    await api.deps.temporal.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .executeUpdate(projectionSyncedUpdate);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  /** Everything a refused request could have changed. */
  async function footprint() {
    const db = api.deps.db;
    return {
      // Other test files create projects at the same time: count only the names used here.
      projects: await db.project.count({
        where: { OR: [{ name: { startsWith: 'dup-' } }, { name: { in: ['x', ''] } }] },
      }),
      tasks: await db.task.count({ where: { projectId } }),
      events: await db.taskEvent.count({ where: { projectId } }),
      task: await db.task.findUnique({
        where: { id: taskId },
        select: { state: true, version: true },
      }),
      questions: await db.taskQuestion.count({ where: { taskId } }),
    };
  }

  const expectRefused = async (
    call: () => Promise<{ status: number; body: any }>,
    status: number,
    code: string,
    message: string | RegExp,
  ) => {
    const before = await footprint();
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(await footprint()).toEqual(before);
  };

  describe('POST /api/tasks', () => {
    it.each([
      ['a missing title', () => ({ projectId, description: 'd' }), /title: /],
      ['a wrong-typed title', () => ({ projectId, title: 42, description: 'd' }), /title: /],
      [
        'an empty title',
        () => ({ projectId, title: '   ', description: 'd' }),
        /title: must not be empty/,
      ],
      ['a missing description', () => ({ projectId, title: 't' }), /description: /],
      [
        'a fractional priority',
        () => ({ projectId, title: 't', description: 'd', priority: 1.5 }),
        /priority: /,
      ],
      [
        'a malformed projectId',
        () => ({ projectId: 'p-1', title: 't', description: 'd' }),
        /projectId: expected a UUID/,
      ],
      [
        'an unknown field',
        () => ({ projectId, title: 't', description: 'd', owner: 'x' }),
        /owner/,
      ],
      ['an array body', () => [1, 2], /body: /],
    ])('refuses %s with 400 naming the field', async (_what, body, message) => {
      await expectRefused(() => http.post('/api/tasks', body()), 400, 'validation_failed', message);
    });

    it('refuses bad JSON with 400', async () => {
      await expectRefused(
        () => http.post('/api/tasks', '{"projectId":'),
        400,
        'invalid_json',
        'not valid JSON',
      );
    });

    it('refuses an oversized body with 413', async () => {
      const body = { projectId, title: 't', description: 'x'.repeat(400_000) };
      await expectRefused(() => http.post('/api/tasks', body), 413, 'payload_too_large', /larger/);
    });

    it('refuses an unknown project with 404', async () => {
      const unknown = randomUUID();
      await expectRefused(
        () => http.post('/api/tasks', { projectId: unknown, title: 't', description: 'd' }),
        404,
        'not_found',
        `project ${unknown} does not exist`,
      );
    });

    it('refuses a caller without a valid token with 401', async () => {
      const body = { projectId, title: 't', description: 'd' };
      await expectRefused(
        () => apiClient(api.url, 'wrong-token').post('/api/tasks', body),
        401,
        'unauthorized',
        /Bearer/,
      );
      await expectRefused(
        () =>
          fetch(`${api.url}/api/tasks`, { method: 'POST', body: JSON.stringify(body) }).then(
            async (r) => ({ status: r.status, body: await r.json() }),
          ),
        401,
        'unauthorized',
        /Bearer/,
      );
    });
  });

  describe('transitions the state does not allow', () => {
    it('refuses to approve a backlog task with 409 naming the state', async () => {
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/approve`),
        409,
        'conflict',
        `task ${taskId} is backlog; only a task that is ready_to_test can be approved`,
      );
    });

    it('refuses to answer a question that was not asked', async () => {
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/respond`, { answer: 'yes' }),
        409,
        'conflict',
        `task ${taskId} has no question waiting for an answer (it is backlog)`,
      );
    });

    it('refuses to request changes on a task that is being worked on', async () => {
      const agent = await registerTestAgent(api.deps.db);
      const { body } = await http.post('/api/tasks', {
        projectId,
        title: 'Worked on',
        description: 'd',
      });
      await api.deps.temporal.client.workflow
        .getHandle(taskWorkflowId(body.taskId))
        .executeUpdate(claimTaskUpdate, { args: [{ agentId: agent }] });
      const res = await http.post(`/api/tasks/${body.taskId}/request-changes`, {
        feedback: 'more',
      });
      expect(res).toEqual({
        status: 409,
        body: {
          error: {
            code: 'conflict',
            message: `task ${body.taskId} is in_progress; only a task that is ready_to_test or approved can get change requests`,
            retryable: false,
            requestId: expect.any(String),
          },
        },
      });
    });

    it('refuses bad transition bodies with 400 before asking the workflow', async () => {
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/respond`, {}),
        400,
        'validation_failed',
        /answer: /,
      );
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/respond`, { answer: 'x', questionId: 'q' }),
        400,
        'validation_failed',
        /questionId/,
      );
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/request-changes`, { feedback: '' }),
        400,
        'validation_failed',
        /feedback/,
      );
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/approve`, { force: true }),
        400,
        'validation_failed',
        /force/,
      );
      await expectRefused(
        () => http.post(`/api/tasks/${taskId}/cancel`, { reason: 7 }),
        400,
        'validation_failed',
        /reason/,
      );
    });
  });

  describe('unknown ids', () => {
    it('answers 404 for a task that does not exist, whatever the route', async () => {
      const unknown = randomUUID();
      for (const call of [
        () => http.get(`/api/tasks/${unknown}`),
        () => http.post(`/api/tasks/${unknown}/approve`),
        () => http.post(`/api/tasks/${unknown}/respond`, { answer: 'x' }),
        () => http.post(`/api/tasks/${unknown}/cancel`),
        () => http.post(`/api/tasks/${unknown}/request-changes`, { feedback: 'x' }),
      ]) {
        await expectRefused(call, 404, 'not_found', `task ${unknown} does not exist`);
      }
      await expectRefused(
        () => http.get('/api/tasks/not-a-uuid'),
        400,
        'validation_failed',
        /id: expected a UUID/,
      );
      await expectRefused(
        () => http.get(`/api/projects/${unknown}`),
        404,
        'not_found',
        `project ${unknown} does not exist`,
      );
      await expectRefused(
        () => http.get(`/api/tasks?projectId=${unknown}`),
        404,
        'not_found',
        /does not exist/,
      );
      await expectRefused(
        () => http.get(`/api/tasks?state=done`),
        400,
        'validation_failed',
        /state: /,
      );
    });

    it('refuses bad and unknown pull requests and merges', async () => {
      const unknown = randomUUID();
      for (const [path, status, message] of [
        [`/api/projects/${projectId}/pulls/abc`, 400, /number: expected a number/],
        [`/api/projects/${projectId}/pulls/0`, 400, /number: expected 1 or more/],
        [`/api/projects/${projectId}/pulls/3000000000`, 400, /number: no pull request/],
        [`/api/projects/${projectId}/pulls/7`, 404, `project ${projectId} has no pull request 7`],
        [`/api/projects/${unknown}/pulls/1`, 404, `project ${unknown} does not exist`],
        ['/api/merges/not-a-uuid', 400, /id: expected a UUID/],
        [`/api/merges/${unknown}`, 404, `merge ${unknown} does not exist`],
        ['/api/merges', 400, /projectId: /],
      ] as const) {
        await expectRefused(
          () => http.get(path),
          status,
          status === 400 ? 'validation_failed' : 'not_found',
          message,
        );
      }
    });
  });

  describe('a task that has finished', () => {
    it('refuses every transition with 409 naming its final state', async () => {
      const { body } = await http.post('/api/tasks', {
        projectId,
        title: 'Gone',
        description: 'd',
      });
      expect((await http.post(`/api/tasks/${body.taskId}/cancel`, { reason: 'no' })).status).toBe(
        200,
      );
      for (const call of [
        () => http.post(`/api/tasks/${body.taskId}/approve`),
        () => http.post(`/api/tasks/${body.taskId}/request-changes`, { feedback: 'more' }),
        () => http.post(`/api/tasks/${body.taskId}/respond`, { answer: 'x' }),
        () => http.post(`/api/tasks/${body.taskId}/cancel`),
      ]) {
        const res = await call();
        expect(res.status).toBe(409);
        expect(res.body.error).toEqual({
          code: 'conflict',
          message: expect.stringMatching(/cancelled/),
          retryable: false,
          requestId: expect.any(String),
        });
      }
      expect((await http.get(`/api/tasks/${body.taskId}`)).body.state).toBe('cancelled');
    });
  });

  describe('POST /api/projects', () => {
    it('refuses a duplicate name with 409 and a bad body with 400', async () => {
      const name = `dup-${randomUUID()}`;
      expect((await http.post('/api/projects', { name })).status).toBe(201);
      await expectRefused(
        () => http.post('/api/projects', { name }),
        409,
        'conflict',
        `a project named "${name}" already exists`,
      );
      await expectRefused(
        () => http.post('/api/projects', { name: '' }),
        400,
        'validation_failed',
        /name: /,
      );
      await expectRefused(
        () => http.post('/api/projects', { name: 'x', repository: { provider: 'github' } }),
        400,
        'validation_failed',
        /repository.provider/,
      );
      await expectRefused(
        () => http.post('/api/projects', { name: 'x', preview: { port: 70000 } }),
        400,
        'validation_failed',
        /preview.port/,
      );
    });
  });
});

/** `POST /api/tasks` with an `Idempotency-Key`: an answer lost and the request sent again. */
describe('POST /api/tasks sent again with its Idempotency-Key', () => {
  const taskQueue = uniqueTaskQueue('idempotent');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let projectId: string;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    const admin = apiClient(api.url, api.adminToken);
    projectId = (await admin.post('/api/projects', { name: `idempotent-${randomUUID()}` })).body.id;
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  const create = async (body: unknown, key: string) => {
    const res = await fetch(`${api.url}/api/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${api.adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const tasks = () => api.deps.db.task.count({ where: { projectId } });

  it('creates the task once and answers it again, even after it has ended', async () => {
    const key = randomUUID();
    const body = { projectId, title: 'Once', description: 'only once', priority: 5 };
    const first = await create(body, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'backlog', title: 'Once', priority: 5 });
    const again = await create(body, key);
    expect(again).toEqual(first);
    expect(await tasks()).toBe(1);
    // Its workflow has ended: the same request still finds it, and starts nothing.
    const http = apiClient(api.url, api.adminToken);
    expect((await http.post(`/api/tasks/${first.body.taskId}/cancel`, {})).status).toBe(200);
    const late = await create(body, key);
    expect(late.status).toBe(201);
    expect(late.body).toMatchObject({ taskId: first.body.taskId, status: 'cancelled' });
    expect(await tasks()).toBe(1);
    // Another key is another task.
    const other = await create(body, randomUUID());
    expect(other.body.taskId).not.toBe(first.body.taskId);
    expect(await tasks()).toBe(2);
  });

  it('answers a new task as the read model holds it', async () => {
    const http = apiClient(api.url, api.adminToken);
    const { status, body } = await http.post('/api/tasks', {
      projectId,
      title: 'Read back',
      description: 'd',
    });
    expect(status).toBe(201);
    const { taskId, status: state, ...task } = body;
    expect(state).toBe('backlog');
    expect((await http.get(`/api/tasks/${taskId}`)).body).toEqual(task);
    // Its workflow takes the row over without changing what it says.
    await untilProjected(api.deps.db, [taskId]);
    expect((await http.get(`/api/tasks/${taskId}`)).body).toEqual(task);
  });

  it('keeps the longest description and answer, in characters of four bytes', async () => {
    const http = apiClient(api.url, api.adminToken);
    const longest = '\u{1F600}'.repeat(20_000); // 80,000 bytes in UTF-8
    const created = await http.post('/api/tasks', {
      projectId,
      title: 'Long',
      description: longest,
    });
    expect(created.status).toBe(201);
    const taskId = created.body.taskId as string;
    const agentId = await registerTestAgent(api.deps.db);
    const handle = api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));
    await executeTaskUpdate(handle, claimTaskUpdate, { agentId });
    await executeTaskUpdate(handle, askQuestionUpdate, {
      agentId,
      questionId: randomUUID(),
      question: 'which?',
    });
    expect((await http.post(`/api/tasks/${taskId}/respond`, { answer: longest })).status).toBe(200);
    const read = (await http.get(`/api/tasks/${taskId}`)).body;
    expect(read.description).toBe(longest);
    expect(read.questions[0].answer).toBe(longest);
  });

  it('refuses a key used for another task with 409, and a malformed key with 400', async () => {
    const key = randomUUID();
    const first = await create({ projectId, title: 'First', description: '' }, key);
    expect(first.status).toBe(201);
    const before = await tasks();
    const reused = await create({ projectId, title: 'Second', description: '' }, key);
    expect(reused.status).toBe(409);
    expect(reused.body.error.message).toBe(
      `Idempotency-Key ${key} was used for another task (${first.body.taskId}); use a new key for a new task`,
    );
    const bad = await create({ projectId, title: 'Third', description: '' }, 'x'.repeat(201));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/Idempotency-Key: expected 1 to 200 visible ASCII/);
    expect(await tasks()).toBe(before);
  });
});
