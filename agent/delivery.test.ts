import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalRuntime } from '../activities/preview/local';
import { taskPreviewName } from '../activities/preview/runtime';
import { ensurePreviewCleanupSchedule, previewCleanupScheduleId } from '../platform/schedules';
import { startTestApi } from '../test/support/api';
import { callTool, connectAgent } from '../test/support/mcp-agent';
import type { TestApi } from '../test/support/api';
import { TestBoard } from '../test/support/board';
import { apiClient } from '../test/support/http';
import { within } from '../test/support/within';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';
import { gitDelivery } from './git-work';
import { runReferenceAgent } from './reference-agent';
import {
  git,
  localRepositoryPath,
  localRepositoryUrl,
  seedWithFixtureApp,
} from '../test/support/git';
import { createProject } from '../test/support/http';

/** The project's repository starts with the fixture app on staging, as a real project would. */
function seedRepository(projectId: string): void {
  seedWithFixtureApp(
    localRepositoryUrl(projectId),
    mkdtempSync(path.join(os.tmpdir(), 'aiworker-seed-')),
  );
}

describe('delivery over MCP with the local forge and local previews', () => {
  const taskQueue = uniqueTaskQueue('delivery');
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  const previews = createLocalRuntime({
    previewsDir: path.join(process.env.AIWORKER_DATA_DIR!, 'previews'),
  });
  let taskId: string | undefined;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    if (taskId) await previews.teardown(taskPreviewName(taskId));
    await api.close();
    await worker.stop();
  });

  it('takes a task, branches, pushes, opens a PR, previews it, takes feedback, and is approved', async () => {
    const project = await createProject(http, {
      name: `delivery-${randomUUID()}`,
      preview: {
        installCommand: 'npm install --no-audit --no-fund',
        startCommand: 'node server.js',
        healthPath: '/healthz',
      },
    });
    // People and agents see the git gateway's URL, never the repository's place on disk.
    expect(project.cloneUrl).toBe(`${api.url}/git/${project.id}.git`);
    seedRepository(project.id);
    const { body: agent } = await http.post('/api/agents', {
      name: 'builder',
      projectIds: [project.id],
    });
    taskId = (
      await http.post('/api/tasks', {
        projectId: project.id,
        title: 'Greeting',
        description: 'Change the greeting',
      })
    ).body.taskId as string;

    // The person, on the board: answers the question, then reviews each preview.
    const board = await TestBoard.connect(api.url, api.adminToken, { poll: true });
    await board.subscribe(project.id);
    const trace: string[] = [];
    board.on<{ taskId: string; questionId: string }>('task:needs_input', (e) => {
      trace.push('needs_input');
      void http
        .post(`/api/tasks/${e.taskId}/respond`, {
          answer: 'Hello, world',
          questionId: e.questionId,
        })
        .then((r) => trace.push(`respond → ${r.status}`));
    });
    const seen: string[] = [];
    const reviews = new Promise<void>((resolve, reject) => {
      board.on<{ taskId: string; previewUrl: string }>('task:ready_to_test', (e) => {
        void (async () => {
          const page = await (await fetch(e.previewUrl)).text();
          seen.push(page.match(/<p id="message">(.*)<\/p>/)![1]!);
          if (seen.length === 1) {
            await http.post(`/api/tasks/${e.taskId}/request-changes`, {
              feedback: 'Add an exclamation mark',
            });
          } else {
            await http.post(`/api/tasks/${e.taskId}/approve`);
            resolve();
          }
        })().catch(reject);
      });
    });

    const workdir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-agent-'));
    const context = () => ({
      trace,
      events: board.events.map((e) => e.type),
      connection: board.disconnects,
      connected: board.socket.connected,
      serverWarnings: api
        .logs()
        .split('\n')
        .filter((l) => l.includes('"level":40') || l.includes('"level":50'))
        .slice(-10),
      workerWarnings: worker.warnings(),
    });
    const run = runReferenceAgent({
      url: api.url,
      token: agent.token,
      maxTasks: 2,
      waitSeconds: 30,
      question: () => 'What should the greeting say?',
      log: (line) => trace.push(line),
      work: gitDelivery({
        token: agent.token,
        workdir,
        edit: (dir, task, answer) => {
          const text = task.feedback.length ? `${answer}!` : answer!;
          writeFileSync(path.join(dir, 'message.txt'), `${text}\n`);
          return Promise.resolve(
            task.feedback.length ? 'Address review feedback' : 'Change the greeting',
          );
        },
      }),
    });
    const worked = await within('the agent', 120_000, run, context);
    await within('the reviews', 30_000, reviews, context);
    board.close();

    expect(worked).toEqual([taskId, taskId]);
    expect(seen).toEqual(['Hello, world', 'Hello, world!']);
    const task = (await http.get(`/api/tasks/${taskId}`)).body;
    expect(task).toMatchObject({
      state: 'approved',
      branch: `task-${taskId}-feature`,
      prNumber: 1,
      previewUrl: expect.stringMatching(/^http:\/\/localhost:\d+$/),
    });
    // What was approved is exactly what the second preview ran: the head of the branch.
    const bare = localRepositoryPath(project.id);
    expect(task.approvedCommit).toBe(git(bare, 'rev-parse', `task-${taskId}-feature`));
    expect(task.previewCommit).toBe(task.approvedCommit);
    const pr = (await http.get(`/api/projects/${project.id}/pulls/1`)).body;
    expect(pr).toMatchObject({
      head: `task-${taskId}-feature`,
      base: 'staging',
      filesChanged: 1,
      files: [{ path: 'message.txt', additions: 1, deletions: 1 }],
    });
    expect(pr.body).toContain('What should the greeting say?');
    expect(pr.body).toContain('Add an exclamation mark');
    const events = (await http.get(`/api/tasks/${taskId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );
    expect(events).toEqual(
      expect.arrayContaining([
        'task:branch_created',
        'task:pr_opened',
        'task:ready_to_test',
        'task:changes_requested',
      ]),
    );
    expect(readFileSync(path.join(workdir, taskId, 'message.txt'), 'utf8')).toBe('Hello, world!\n');

    // Clean-up: the approved task keeps its preview; once cancelled, the next sweep removes it.
    const client = api.deps.temporal.client;
    await ensurePreviewCleanupSchedule(api.deps.temporal.connection, {
      namespace: api.deps.namespace,
      taskQueue,
      everyMs: 3_600_000,
    });
    const schedule = await client.schedule
      .getHandle(previewCleanupScheduleId(taskQueue))
      .describe();
    expect(schedule.action).toMatchObject({ workflowType: 'previewCleanupWorkflow', taskQueue });
    const sweep = () =>
      client.workflow.execute('previewCleanupWorkflow', {
        taskQueue,
        workflowId: `sweep-${randomUUID()}`,
      });
    const name = taskPreviewName(taskId);
    expect(await sweep()).not.toContainEqual(expect.objectContaining({ name }));
    expect((await previews.list()).map((p) => p.name)).toContain(name);
    expect((await http.post(`/api/tasks/${taskId}/cancel`, {})).status).toBe(200);
    expect(await sweep()).toContainEqual({ name, reason: 'the task was cancelled' });
    expect((await previews.list()).map((p) => p.name)).not.toContain(name);
    const after = (await http.get(`/api/tasks/${taskId}/events`)).body.events;
    expect(after[after.length - 1]).toMatchObject({
      type: 'preview:removed',
      data: { taskId, name, reason: 'the task was cancelled' },
    });
  }, 240_000);

  /** A project without preview commands, whose one task a new agent has just taken. */
  const taskTaken = async (name: string) => {
    const project = await createProject(http, { name: `${name}-${randomUUID()}` });
    const { body: agent } = await http.post('/api/agents', { name, projectIds: [project.id] });
    const id = (
      await http.post('/api/tasks', { projectId: project.id, title: 'x', description: 'y' })
    ).body.taskId as string;
    const client = await connectAgent(api.url, agent.token);
    await callTool(client, 'get_next_task', {});
    return { project, id, client };
  };

  it('answers a create_branch sent again while the first still runs with the same branch', async () => {
    // An agent told `unavailable` after the workflow had taken its call retries it: the retry
    // waits for the running step instead of being refused as busy.
    const { project, id, client } = await taskTaken('again');
    const both = await Promise.all([
      callTool(client, 'create_branch', { taskId: id }),
      callTool(client, 'create_branch', { taskId: id }),
    ]);
    const branch = { branch: `task-${id}-feature`, cloneUrl: project.cloneUrl };
    expect(both.map((r) => ({ isError: r.isError, text: r.isError ? r.text : '' }))).toEqual([
      { isError: false, text: '' },
      { isError: false, text: '' },
    ]);
    expect(both.map((r) => r.data)).toEqual([branch, branch]);
    await client.close();
  });

  it('refuses delivery steps out of order, and shows the forge and runtime refusals to the agent and the board', async () => {
    const { project, id, client } = await taskTaken('refusals');
    expect(await callTool(client, 'create_pr', { taskId: id })).toMatchObject({
      isError: true,
      text: expect.stringContaining('call create_branch'),
    });
    expect((await callTool(client, 'create_branch', { taskId: id })).data).toEqual({
      branch: `task-${id}-feature`,
      cloneUrl: project.cloneUrl,
    });
    // Nothing pushed yet: the forge has nothing to propose.
    expect(await callTool(client, 'create_pr', { taskId: id })).toMatchObject({
      isError: true,
      text: expect.stringContaining('has no commits that staging lacks'),
    });
    // The project has no start command: the preview runtime refuses.
    const preview = await callTool(client, 'trigger_preview', { taskId: id });
    expect(preview.isError).toBe(true);
    expect(preview.text).toMatch(/^trigger_preview failed: .*start/i);
    const events = (await http.get(`/api/tasks/${id}/events`)).body.events.filter(
      (e: { type: string }) => e.type === 'task:delivery_failed',
    );
    expect(events.map((e: { data: { step: string } }) => e.data.step)).toEqual([
      'create_pr',
      'trigger_preview',
    ]);
    expect((await http.get(`/api/tasks/${id}`)).body.state).toBe('in_progress');
    await client.close();
  });
});
