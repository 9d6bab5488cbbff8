import { randomUUID } from 'node:crypto';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Events reach every board through Redis, whichever API process it is connected to. */
describe('live events', () => {
  const taskQueue = uniqueTaskQueue('events');
  let worker: { stop(): Promise<void> };
  let apiA: TestApi;
  let apiB: TestApi;
  let projectId: string;
  const boards: TestBoard[] = [];
  const board = async (api: TestApi) => {
    const b = await TestBoard.connect(api.url, api.adminToken);
    boards.push(b);
    return b;
  };

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    apiA = await startTestApi({ taskQueue });
    apiB = await startTestApi({ taskQueue, adminToken: apiA.adminToken });
    projectId = (
      await createProject(apiClient(apiA.url, apiA.adminToken), { name: `events-${randomUUID()}` })
    ).id;
  });
  afterAll(async () => {
    for (const b of boards) b.close();
    await apiA.close();
    await apiB.close();
    await worker.stop();
  });

  it('delivers a change made through one API process to a board on another', async () => {
    const onB = await board(apiB);
    await onB.subscribe(projectId);
    const onOtherProject = await board(apiB);
    const otherProject = (
      await apiClient(apiB.url, apiB.adminToken).post('/api/projects', {
        name: `other-${randomUUID()}`,
      })
    ).body.id;
    await onOtherProject.subscribe(otherProject);

    const { body } = await apiClient(apiA.url, apiA.adminToken).post('/api/tasks', {
      projectId,
      title: 'Seen elsewhere',
      description: '',
    });
    const created = await onB.waitFor((e) => e.type === 'task:created' && e.taskId === body.taskId);
    expect(created).toMatchObject({
      projectId,
      title: 'Seen elsewhere',
      priority: 0,
      seq: expect.any(Number),
      at: expect.any(String),
    });
    // A board sees only the projects it subscribed to.
    expect(onOtherProject.events).toEqual([]);
  });

  it('lets a board that lost its connection catch up on exactly what it missed', async () => {
    const http = apiClient(apiA.url, apiA.adminToken);
    const first = await board(apiA);
    await first.subscribe(projectId);
    const t1 = (await http.post('/api/tasks', { projectId, title: 'before', description: '' })).body
      .taskId;
    const lastSeen = (await first.waitFor((e) => e.type === 'task:created' && e.taskId === t1)).seq;
    first.close();

    const t2 = (
      await http.post('/api/tasks', { projectId, title: 'while away 1', description: '' })
    ).body.taskId;
    const t3 = (
      await http.post('/api/tasks', { projectId, title: 'while away 2', description: '' })
    ).body.taskId;
    await http.post(`/api/tasks/${t2}/cancel`);
    // Each task's workflow projects its own creation after the API has answered, so t3's
    // creation and t2's cancellation reach the log in either order; wait until all three have.
    for (;;) {
      const logged = (await http.get(`/api/projects/${projectId}/events?after=${lastSeen}`)).body;
      if (logged.events.length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const again = await board(apiB);
    const ack = await again.subscribe(projectId, lastSeen);
    expect(ack).toEqual({ ok: true, replayed: 3, more: false, latestSeq: expect.any(Number) });
    const missed = again.events.filter((e) => e.seq > lastSeen);
    const seen = missed.map((e) => [e.type, e.taskId]);
    expect(seen).toHaveLength(3);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['task:created', t2],
        ['task:created', t3],
        ['task:status_changed', t2],
      ]),
    );
    // One task's own events keep their order.
    expect(missed.filter((e) => e.taskId === t2).map((e) => e.type)).toEqual([
      'task:created',
      'task:status_changed',
    ]);
    expect(missed.find((e) => e.type === 'task:status_changed')).toMatchObject({
      oldState: 'backlog',
      newState: 'cancelled',
    });
    expect(missed.map((e) => e.seq)).toEqual([...missed.map((e) => e.seq)].sort((a, b) => a - b));

    // The same history is served over REST.
    const rest = (await http.get(`/api/projects/${projectId}/events?after=${lastSeen}`)).body;
    expect(rest.events.map((e: { data: { seq: number } }) => e.data.seq)).toEqual(
      missed.map((e) => e.seq),
    );
    expect(rest.more).toBe(false);
  });

  it('refuses bad subscriptions with an error answer', async () => {
    const b = await board(apiA);
    expect(await b.subscribe('nope')).toEqual({
      error: {
        code: 'validation_failed',
        message: 'invalid body: projectId: expected a UUID',
        retryable: false,
      },
    });
    const unknown = randomUUID();
    expect(await b.subscribe(unknown)).toEqual({
      error: { code: 'not_found', message: `project ${unknown} does not exist`, retryable: false },
    });
    expect(
      await b.socket.timeout(5000).emitWithAck('subscribe', { projectId, afterSeq: -1 }),
    ).toMatchObject({
      error: { code: 'validation_failed' },
    });
  });
});
