import { randomUUID } from 'node:crypto';
import { askQuestionUpdate, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { CACHE } from '../platform/cache-keys';
import { startTestApi } from './support/api';
import { registerTestAgent } from './support/agents';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { PrivateRedis } from './support/redis-server';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { executeTaskUpdate } from '../platform/task-updates';

/** The worker and the API on a Redis of their own, so it can be stopped. */
describe('cache and Redis', () => {
  const taskQueue = uniqueTaskQueue('cache');
  let agent: string;
  let redis: PrivateRedis;
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let projectId: string;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    worker = await startTestWorker({ taskQueue, redisUrl: redis.url });
    api = await startTestApi({ taskQueue, redisUrl: redis.url, questionReminderMs: 1000 });
    http = apiClient(api.url, api.adminToken);
    projectId = (await createProject(http, { name: `cache-${randomUUID()}` })).id;
    agent = await registerTestAgent(api.deps.db, 'cache agent');
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
    await redis.stop();
  });

  const handle = (taskId: string) =>
    api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));
  const askOn = async (taskId: string) => {
    await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle(taskId), askQuestionUpdate, {
      agentId: agent,
      questionId: randomUUID(),
      question: '?',
    });
  };

  it('serves reads from the cache and never a stale value after a change', async () => {
    const taskId = (await http.post('/api/tasks', { projectId, title: 'cached', description: '' }))
      .body.taskId;
    await askOn(taskId);
    expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('needs_input');
    expect(
      (await http.get(`/api/tasks?projectId=${projectId}`)).body.tasks.find(
        (t: any) => t.id === taskId,
      ).state,
    ).toBe('needs_input');
    // Both reads are now cached, with the TTLs of the seed's design.
    expect(await api.deps.redis.ttl(CACHE.task.key(taskId))).toBeGreaterThan(
      CACHE.task.ttlSeconds - 10,
    );
    expect(await api.deps.redis.ttl(CACHE.taskList.key(projectId))).toBeGreaterThan(
      CACHE.taskList.ttlSeconds - 10,
    );
    expect(await api.deps.redis.ttl(CACHE.project.key(projectId))).toBeGreaterThan(
      CACHE.project.ttlSeconds - 10,
    );

    const answered = await http.post(`/api/tasks/${taskId}/respond`, { answer: 'yes' });
    expect(answered.body.state).toBe('in_progress');
    expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('in_progress');
    expect(
      (await http.get(`/api/tasks?projectId=${projectId}&state=in_progress`)).body.tasks.map(
        (t: any) => t.id,
      ),
    ).toContain(taskId);
  });

  it('ignores a value a slow reader cached under an older generation', async () => {
    const taskId = (await http.post('/api/tasks', { projectId, title: 'raced', description: '' }))
      .body.taskId;
    const stale = { generation: '-1', value: { id: taskId, state: 'approved', title: 'stale' } };
    await api.deps.redis.set(CACHE.task.key(taskId), JSON.stringify(stale), 'EX', 300);
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'backlog',
      title: 'raced',
    });
  });

  it('reminds the board of a question nobody answers, with a durable timer', async () => {
    const board = await TestBoard.connect(api.url, api.adminToken);
    try {
      await board.subscribe(projectId);
      const taskId = (
        await http.post('/api/tasks', { projectId, title: 'unanswered', description: '' })
      ).body.taskId;
      await askOn(taskId);
      const reminder = await board.waitFor(
        (e) => e.type === 'task:input_reminder' && e.taskId === taskId,
      );
      expect(reminder).toMatchObject({
        projectId,
        questionId: expect.any(String),
        waitingSince: expect.any(String),
      });
      await http.post(`/api/tasks/${taskId}/cancel`);
    } finally {
      board.close();
    }
  });

  it('keeps reads and writes working while Redis is down, and delivers the events once it is back', async () => {
    const board = await TestBoard.connect(api.url, api.adminToken);
    try {
      await board.subscribe(projectId);
      await redis.stop();

      const created = await http.post('/api/tasks', {
        projectId,
        title: 'written while Redis is down',
        description: '',
      });
      expect(created.status).toBe(201);
      const taskId = created.body.taskId;
      expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('backlog');
      expect(
        (await http.get(`/api/tasks?projectId=${projectId}`)).body.tasks.map((t: any) => t.id),
      ).toContain(taskId);
      expect((await http.post(`/api/tasks/${taskId}/cancel`)).body.state).toBe('cancelled');
      expect(board.events.filter((e) => e.taskId === taskId)).toEqual([]);

      await redis.start();
      await board.waitFor(
        (e) =>
          e.type === 'task:status_changed' && e.taskId === taskId && e.newState === 'cancelled',
        30_000,
      );
      expect(board.events.filter((e) => e.taskId === taskId).map((e) => e.type)).toEqual([
        'task:created',
        'task:status_changed',
      ]);
      // And the cache is consistent again.
      expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('cancelled');
    } finally {
      board.close();
    }
  }, 60_000);
});
