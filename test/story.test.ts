import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalRuntime } from '../activities/preview/local';
import { stagingPreviewName, taskPreviewName } from '../activities/preview/runtime';
import type { MergeView } from '../contracts/merge';
import { gitDelivery } from '../agent/git-work';
import { runReferenceAgent } from '../agent/reference-agent';
import { startTestApi, testConfig } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { within } from './support/within';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { git, localRepositoryPath, localRepositoryUrl, seedWithFixtureApp } from './support/git';

const GREETING = 'Hello from staging';

/**
 * The seed's story end to end on one machine: a person puts tasks on the board, two agents take
 * them over MCP, ask and get answers, push, open pull requests and preview their work; the person
 * approves each preview and merges the batch; staging serves the merged code.
 */
describe('the whole story on one machine', () => {
  jest.setTimeout(240_000);
  const taskQueue = uniqueTaskQueue('story');
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let board: TestBoard | undefined;
  const previews = createLocalRuntime({
    previewsDir: path.join(testConfig().dataDir, 'previews'),
  });
  const previewNames: string[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    board?.close();
    // Whatever the test left running (a failed run keeps its previews) is stopped with it.
    for (const name of previewNames) await previews.teardown(name);
    await api.close();
    await worker.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('from tasks on the board to merged code served on staging', async () => {
    // The person creates a project whose staging holds the app.
    const project: { id: string; cloneUrl: string } = await createProject(http, {
      name: `story-${randomUUID()}`,
      preview: {
        installCommand: 'npm install --no-audit --no-fund',
        startCommand: 'node server.js',
        healthPath: '/healthz',
      },
    });
    previewNames.push(stagingPreviewName(project.id));
    const seed = mkdtempSync(path.join(os.tmpdir(), 'aiworker-story-'));
    dirs.push(seed);
    expect(project.cloneUrl).toBe(`${api.url}/git/${project.id}.git`);
    seedWithFixtureApp(localRepositoryUrl(project.id), seed);

    board = await TestBoard.connect(api.url, api.adminToken, { poll: true });
    await board.subscribe(project.id);

    // Three tasks; the first changes the page, the others add notes.
    const titles = ['Greeting', 'Release notes', 'Contributors'];
    const taskIds: string[] = [];
    for (const title of titles) {
      const res = await http.post('/api/tasks', {
        projectId: project.id,
        title,
        description: `${title} for the app`,
      });
      expect(res).toMatchObject({ status: 201, body: { status: 'backlog' } });
      taskIds.push(res.body.taskId);
      previewNames.push(taskPreviewName(res.body.taskId));
    }
    const greetingTask = taskIds[0]!;

    // The person on the board: answers every question, approves every preview that serves.
    const trace: string[] = [];
    const failures: string[] = [];
    board.on<{ taskId: string; questionId: string }>('task:needs_input', (e) => {
      trace.push(`needs_input ${e.taskId}`);
      void http
        .post(`/api/tasks/${e.taskId}/respond`, {
          answer: e.taskId === greetingTask ? GREETING : `notes for ${e.taskId}`,
          questionId: e.questionId,
        })
        .then((r) => {
          trace.push(`respond ${e.taskId} → ${r.status}`);
          if (r.status !== 200) failures.push(`respond ${e.taskId}: ${JSON.stringify(r.body)}`);
        });
    });
    const previewUrls = new Map<string, string>();
    const approved = new Set<string>();
    const approvals = new Promise<void>((resolve, reject) => {
      board!.on<{ taskId: string; previewUrl: string }>('task:ready_to_test', (e) => {
        void (async () => {
          const page = await fetch(e.previewUrl);
          expect(page.status).toBe(200);
          previewUrls.set(e.taskId, e.previewUrl);
          const answer = await http.post(`/api/tasks/${e.taskId}/approve`);
          expect(answer.body).toMatchObject({ state: 'approved' });
          // Done once every approval has been answered, not merely sent.
          approved.add(e.taskId);
          if (taskIds.every((id) => approved.has(id))) resolve();
        })().catch(reject);
      });
    });

    // Two agents, each with its own token and checkouts; between them they take all three tasks.
    const agent = async (name: string, maxTasks: number): Promise<string[]> => {
      const { body } = await http.post('/api/agents', { name, projectIds: [project.id] });
      const workdir = mkdtempSync(path.join(os.tmpdir(), `aiworker-${name}-`));
      dirs.push(workdir);
      return await runReferenceAgent({
        url: api.url,
        token: body.token,
        maxTasks,
        waitSeconds: 30,
        log: (line) => trace.push(`${name}: ${line}`),
        question: (task) => `What should "${task.title}" say?`,
        work: gitDelivery({
          token: body.token,
          workdir,
          edit: (dir, task, answer) => {
            mkdirSync(path.join(dir, 'notes'), { recursive: true });
            writeFileSync(path.join(dir, 'notes', `${task.id}.txt`), `${answer}\n`);
            if (task.id === greetingTask)
              writeFileSync(path.join(dir, 'message.txt'), `${answer}\n`);
            return Promise.resolve(task.title);
          },
        }),
      });
    };
    const context = () => ({
      failures,
      trace,
      events: board!.events.map((e) => `${e.type} ${String(e.taskId ?? '')}`),
      connection: board!.disconnects,
      connected: board!.socket.connected,
      // Whether what the board missed is in the event log (publishing) or not (the workflow).
      serverWarnings: api
        .logs()
        .split('\n')
        .filter((l) => l.includes('"level":40') || l.includes('"level":50'))
        .slice(-10),
      workerWarnings: worker.warnings(),
    });
    const worked = await within(
      'the agents',
      150_000,
      Promise.all([agent('builder-1', 2), agent('builder-2', 1)]),
      context,
    );
    await within('the approvals', 30_000, approvals, context);
    expect(failures).toEqual([]);
    expect(worked.flat().sort()).toEqual([...taskIds].sort());
    expect(worked.map((w) => w.length).sort()).toEqual([1, 2]);

    for (const taskId of taskIds) {
      const task = (await http.get(`/api/tasks/${taskId}`)).body;
      expect(task).toMatchObject({
        state: 'approved',
        branch: `task-${taskId}-feature`,
        prUrl: expect.any(String),
        questions: [expect.objectContaining({ answer: expect.any(String) })],
      });
    }
    const greetingPreview = await (await fetch(previewUrls.get(greetingTask)!)).text();
    expect(greetingPreview).toContain(GREETING);

    // The person merges the batch.
    const res = await http.post('/api/merge', { taskIds });
    expect(res.status).toBe(202);
    const mergeId: string = res.body.mergeId;
    // Wait for the merge to end, then for its event; a merge that ends otherwise says why.
    const ended = async (): Promise<MergeView> => {
      for (;;) {
        const view: MergeView = (await http.get(`/api/merges/${mergeId}`)).body;
        if (['completed', 'failed', 'rolled_back'].includes(view.state)) return view;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const merge = await within('the merge', 150_000, ended(), context);
    expect(merge).toMatchObject({ state: 'completed', environment: 'staging' });
    await board.waitFor((e) => e.type === 'deploy:completed' && e.mergeId === mergeId, 30_000);
    expect(merge.tasks.map((t) => t.result)).toEqual(['deployed', 'deployed', 'deployed']);

    const started = board.events.find((e) => e.type === 'deploy:started' && e.mergeId === mergeId);
    expect(started).toMatchObject({ environment: 'staging', projectId: project.id });
    expect([...(started!.taskIds as string[])].sort()).toEqual([...taskIds].sort());
    const completed = board.events.find(
      (e) => e.type === 'deploy:completed' && e.mergeId === mergeId,
    );
    expect(completed).toMatchObject({ environment: 'staging', url: merge.deployUrl });

    for (const taskId of taskIds) {
      expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('staging');
    }
    // The task previews are gone; staging serves the merged code.
    const running = (await previews.list()).map((p) => p.name);
    for (const taskId of taskIds) expect(running).not.toContain(taskPreviewName(taskId));
    expect(running).toContain(stagingPreviewName(project.id));
    for (const url of previewUrls.values()) await expect(fetch(url)).rejects.toThrow();
    const page = await fetch(merge.deployUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<p id="message">${GREETING}</p>`);

    const bare = localRepositoryPath(project.id);
    for (const taskId of taskIds)
      expect(git(bare, 'show', `staging:notes/${taskId}.txt`)).not.toBe('');
  });
});
