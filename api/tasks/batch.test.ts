import { randomUUID } from 'node:crypto';
import { ADMIN_ACTOR } from '../../contracts/actor';
import { taskWorkflowId, TASK_BATCH_MAX } from '../../contracts/task';
import type { taskWorkflow } from '../../workflows/task';
import { startTestApi } from '../../test/support/api';
import type { TestApi } from '../../test/support/api';
import { apiClient } from '../../test/support/http';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';
import { derivedTaskId, taskWorkflowStart } from './create';

/** `POST /api/tasks/batch` on the real stack: a worker and an API over Temporal, MariaDB, Redis. */
describe('POST /api/tasks/batch', () => {
  const taskQueue = uniqueTaskQueue('batch');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    admin = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  const newProject = async (): Promise<string> =>
    (await admin.post('/api/projects', { name: `batch-${randomUUID()}` })).body.id;
  const tasksOf = (projectId: string) => api.deps.db.task.count({ where: { projectId } });
  /** A batch sent with the admin token, with an `Idempotency-Key` when one is given. */
  const sendBatch = async (body: unknown, key?: string) => {
    const res = await fetch(`${api.url}/api/tasks/batch`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${api.adminToken}`,
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const titled = (n: number, prefix = 'task') =>
    Array.from({ length: n }, (_, i) => ({ title: `${prefix} ${i}`, priority: i % 3 }));

  it('creates every task, answers their ids in the order sent, and each is readable at once', async () => {
    const projectId = await newProject();
    const other = await newProject();
    const tasks: Array<{
      title: string;
      priority?: number;
      description?: string;
      projectId?: string;
    }> = [
      ...titled(30),
      { title: 'elsewhere', description: 'in the other project', projectId: other },
    ];
    const res = await sendBatch({ projectId, tasks });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ batchId: expect.any(String), taskIds: expect.any(Array) });
    const ids: string[] = res.body.taskIds;
    expect(ids).toHaveLength(31);
    expect(new Set(ids).size).toBe(31);
    // Read-your-write: each task, and the project's list, right after the answer.
    for (const [i, id] of ids.entries()) {
      const got = await admin.get(`/api/tasks/${id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        id,
        title: tasks[i]!.title,
        description: i === 30 ? 'in the other project' : '',
        priority: tasks[i]!.priority ?? 0,
        projectId: i === 30 ? other : projectId,
        state: 'backlog',
      });
    }
    const listed = (await admin.get(`/api/tasks?projectId=${projectId}`)).body.tasks;
    expect(listed.map((t: { id: string }) => t.id).sort()).toEqual(ids.slice(0, 30).sort());
    // Each task is a workflow of its own, started once.
    const handle = api.deps.temporal.client.workflow.getHandle(taskWorkflowId(ids[7]!));
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  it('refuses the whole batch when one task is bad, naming its index and field', async () => {
    const projectId = await newProject();
    const tasks = titled(20);
    tasks[7] = { title: '   ', priority: 0 };
    const res = await sendBatch({ projectId, tasks });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toBe('invalid body: tasks.7.title: must not be empty');
    const noProject = await sendBatch({ tasks: [{ title: 'a' }] });
    expect(noProject.body.error.message).toBe(
      'invalid body: tasks.0.projectId: required, on the task or once for the whole batch',
    );
    expect(
      (await sendBatch({ projectId, tasks: [{ title: 'a', owner: 'x' }] })).body.error.message,
    ).toMatch(/tasks\.0: Unrecognized key: "owner"/);
    expect((await sendBatch({ projectId, tasks: [] })).status).toBe(400);
    // Ten problems are named, then how many more there are.
    const allBad = await sendBatch({ projectId, tasks: titled(25).map(() => ({ title: '' })) });
    expect(allBad.body.error.message).toMatch(/tasks\.9\.title: must not be empty; and 15 more$/);
    expect(await tasksOf(projectId)).toBe(0);
  });

  it(`refuses more than ${TASK_BATCH_MAX} tasks with 400, and a body over its limit with 413`, async () => {
    const projectId = await newProject();
    const tooMany = await sendBatch({ projectId, tasks: titled(TASK_BATCH_MAX + 1) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toBe(
      `invalid body: tasks: at most ${TASK_BATCH_MAX} tasks in one request`,
    );
    // 1,000 tasks with 6 kB descriptions: larger than the 5 MB a batch may be.
    const huge = titled(TASK_BATCH_MAX).map((t) => ({ ...t, description: 'x'.repeat(6_000) }));
    const tooLarge = await sendBatch({ projectId, tasks: huge });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('payload_too_large');
    // Other routes keep their limit: 400 kB is too much for one task.
    const one = await admin.post('/api/tasks', {
      projectId,
      title: 't',
      description: 'x'.repeat(400_000),
    });
    expect(one.status).toBe(413);
    expect(await tasksOf(projectId)).toBe(0);
  });

  /** A person of `role` in `projectIds`, signed in: their browser's POST of a batch. */
  const person = async (role: 'member' | 'viewer', projectIds: string[]) => {
    const email = `${role}-${randomUUID().slice(0, 8)}@example.com`;
    const { password } = (await admin.post('/api/users', { email, name: role, role, projectIds }))
      .body;
    const login = await fetch(`${api.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: api.url },
      body: JSON.stringify({ email, password }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    return async (body: unknown) => {
      const res = await fetch(`${api.url}/api/tasks/batch`, {
        method: 'POST',
        headers: { cookie, origin: api.url, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
  };

  it('refuses callers who may not create tasks in every project of the batch', async () => {
    const projectId = await newProject();
    const other = await newProject();
    const member = await person('member', [projectId]);
    // A member of one project, not of the other: nothing is created in either.
    const mixed = await member({
      projectId,
      tasks: [{ title: 'mine' }, { title: 'not mine', projectId: other }],
    });
    // The other project is refused as one that does not exist.
    expect(mixed.status).toBe(404);
    expect(mixed.body.error.message).toBe(`project ${other} does not exist`);
    const viewer = await person('viewer', [projectId]);
    const viewed = await viewer({ projectId, tasks: [{ title: 'a' }] });
    expect(viewed.status).toBe(403);
    expect(viewed.body.error.message).toBe(
      `viewers may only read project ${projectId}: this needs the member role`,
    );
    // An agent's token is for /mcp; no token is 401.
    const agent = (await admin.post('/api/agents', { name: 'batcher', projectIds: '*' })).body;
    const batch = { projectId, tasks: [{ title: 'a' }] };
    expect((await apiClient(api.url, agent.token).post('/api/tasks/batch', batch)).status).toBe(
      403,
    );
    // It is refused before its body is read: a large body is not parsed for it (not even to
    // find that it is not JSON).
    const unread = await fetch(`${api.url}/api/tasks/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: `{"projectId": "${projectId}", "tasks": [${'{"title": "a"},'.repeat(50_000)}`,
    });
    expect(unread.status).toBe(403);
    expect(((await unread.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect((await apiClient(api.url, 'nobody').post('/api/tasks/batch', batch)).status).toBe(401);
    expect(await tasksOf(projectId)).toBe(0);
    expect(await tasksOf(other)).toBe(0);
    // An unknown project: 404 before anything starts.
    const unknown = randomUUID();
    const missing = await sendBatch({ projectId: unknown, tasks: [{ title: 'a' }] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe(`project ${unknown} does not exist`);
    // The member's own batch goes through.
    expect((await member({ projectId, tasks: [{ title: 'mine' }] })).status).toBe(201);
  });

  it('creates nothing twice when a batch is sent again with its Idempotency-Key', async () => {
    const projectId = await newProject();
    const key = randomUUID();
    const tasks = titled(12);
    // The first attempt got only as far as its first five tasks (cut short, answer lost).
    const partial = await sendBatch({ projectId, tasks: tasks.slice(0, 5) }, key);
    expect(partial.status).toBe(201);
    // The sixth task's workflow was started too, its projection maybe not made yet.
    const sixth = derivedTaskId(ADMIN_ACTOR, 'batch', key, 5);
    await api.deps.temporal.client.workflow.start<typeof taskWorkflow>(
      'taskWorkflow',
      taskWorkflowStart(api.deps, sixth, { projectId, description: '', ...tasks[5]! }, ADMIN_ACTOR),
    );
    const full = await sendBatch({ projectId, tasks }, key);
    expect(full.status).toBe(201);
    expect(full.body.batchId).toBe(key);
    expect(full.body.taskIds.slice(0, 5)).toEqual(partial.body.taskIds);
    expect(full.body.taskIds[5]).toBe(sixth);
    expect(await tasksOf(projectId)).toBe(12);
    // The same batch once more: the same ids, nothing new.
    const again = await sendBatch({ projectId, tasks }, key);
    expect(again).toEqual({ status: 201, body: full.body });
    expect(await tasksOf(projectId)).toBe(12);
    // A task of the batch that has ended since (its workflow closed) still counts as created.
    const cancelled = full.body.taskIds[3];
    expect((await admin.post(`/api/tasks/${cancelled}/cancel`, {})).status).toBe(200);
    const afterCancel = await sendBatch({ projectId, tasks }, key);
    expect(afterCancel).toEqual({ status: 201, body: full.body });
    expect((await admin.get(`/api/tasks/${cancelled}`)).body.state).toBe('cancelled');
    expect(await tasksOf(projectId)).toBe(12);
    // Without a key, every request is a new batch.
    const unkeyed = await sendBatch({ projectId, tasks: tasks.slice(0, 2) });
    expect(unkeyed.body.batchId).not.toBe(key);
    expect(await tasksOf(projectId)).toBe(14);
  });

  it('refuses a key used before for other tasks with 409, creating nothing', async () => {
    const projectId = await newProject();
    const key = randomUUID();
    expect((await sendBatch({ projectId, tasks: titled(3) }, key)).status).toBe(201);
    const reused = await sendBatch({ projectId, tasks: titled(4, 'other') }, key);
    expect(reused.status).toBe(409);
    expect(reused.body.error.message).toBe(
      `Idempotency-Key ${key} was used for a batch with other tasks (task 0 differs); use a new key for a new batch`,
    );
    const badKey = await sendBatch({ projectId, tasks: titled(1) }, 'has spaces in it');
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toMatch(/Idempotency-Key/);
    expect(await tasksOf(projectId)).toBe(3);
  });
});
