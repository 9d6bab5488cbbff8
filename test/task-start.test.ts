import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { WorkflowNotFoundError } from '@temporalio/client';
import { claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { createLogger } from '../platform/logger';
import { executeTaskUpdate } from '../platform/task-updates';
import { migrate } from '../prisma/migrator';
import { startLeftTasks } from '../worker/task-starts';
import { registerTestAgent } from './support/agents';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { ApiProcess } from './support/api-process';
import { freePort } from './support/free-port';
import { apiClient, createProject } from './support/http';
import { dropDatabase, scratchDatabaseUrl } from './support/scratch-db';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Polls `read` until it answers something (or gives up after 30 s). */
async function until<T>(read: () => Promise<T | null | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The API writes a task, then starts its workflow. Between the two its process may die, or
 * Temporal may be away: the task exists all the same, and the worker's sweep starts its workflow.
 */
describe('a task whose API process did not start its workflow', () => {
  const taskQueue = uniqueTaskQueue('task-start');
  // A database of its own: the sweep takes every start left in it.
  const databaseUrl = scratchDatabaseUrl('taskstart');
  const token = randomBytes(24).toString('hex');
  let api: TestApi;
  let worker: { stop(): Promise<void> };
  let cutOff: ApiProcess;

  beforeAll(async () => {
    await migrate(databaseUrl);
    api = await startTestApi({ taskQueue, databaseUrl });
    worker = await startTestWorker({ taskQueue, databaseUrl });
    // An API process whose Temporal is away: nothing listens where it looks for it.
    cutOff = new ApiProcess({
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      TEMPORAL_TASK_QUEUE: taskQueue,
      AIWORKER_ADMIN_TOKEN: token,
    });
    await cutOff.start();
  });
  afterAll(async () => {
    await cutOff?.kill();
    await worker?.stop();
    await api?.close();
    await dropDatabase(databaseUrl);
  });

  it('is created all the same, and its workflow is started by the sweep, once', async () => {
    const db = api.deps.db;
    const client = api.deps.temporal.client;
    const http = apiClient(api.url, api.adminToken);
    const projectId = (await createProject(http, { name: 'task-start' })).id as string;
    const away = apiClient(cutOff.url, token);

    // Temporal away: the creation is answered 201 once its start has given up, and the task
    // is in the read model for everyone.
    const created = await away.post('/api/tasks', { projectId, title: 'away', description: 'd' });
    expect({ status: created.status, error: created.body.error }).toEqual({ status: 201 });
    expect(created.body).toMatchObject({ state: 'backlog', title: 'away', questions: [] });
    const awayId = created.body.taskId as string;
    expect((await http.get(`/api/tasks/${awayId}`)).body).toMatchObject({
      id: awayId,
      state: 'backlog',
      createdAt: created.body.createdAt,
    });

    // The API process dies (SIGKILL) after writing a task, while its start still tries.
    const answer = away
      .post('/api/tasks', { projectId, title: 'died', description: 'd' })
      .catch(() => null);
    const diedId = await until(
      async () => (await db.task.findFirst({ where: { projectId, title: 'died' } }))?.id,
    );
    await cutOff.kill();
    expect(await answer).toBeNull();

    // Neither has a workflow yet; both wait for one.
    for (const id of [awayId, diedId]) {
      await expect(client.workflow.getHandle(taskWorkflowId(id)).describe()).rejects.toThrow(
        WorkflowNotFoundError,
      );
    }
    expect(await db.taskStart.count()).toBe(2);

    const lines: string[] = [];
    const logger = createLogger(
      { logLevel: 'info' },
      new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }),
    );
    const sweep = { client, db, logger, taskQueue };
    expect((await startLeftTasks(sweep, 0)).sort()).toEqual([awayId, diedId].sort());
    expect(lines.join('')).toContain('started the workflows of tasks written without one');
    // Their workflows project them (version 1 on); nothing is left to start, and a sweep again
    // does nothing.
    for (const id of [awayId, diedId]) {
      await until(async () => (await db.task.findUnique({ where: { id } }))!.version > 0 || null);
    }
    expect(await db.taskStart.count()).toBe(0);
    expect(await startLeftTasks(sweep, 0)).toEqual([]);
    // Each task once, with its creation in the project's log, and an agent can take it.
    expect(await db.task.count({ where: { projectId } })).toBe(2);
    expect(await db.taskEvent.count({ where: { projectId, type: 'task:created' } })).toBe(2);
    const agentId = await registerTestAgent(db, 'after the sweep');
    const handle = client.workflow.getHandle(taskWorkflowId(diedId));
    const claimed = await executeTaskUpdate(handle, claimTaskUpdate, { agentId });
    expect(claimed).toMatchObject({ state: 'in_progress', assignedAgentId: agentId });
  });
});
