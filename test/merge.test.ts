import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import {
  claimTaskUpdate,
  createBranchUpdate,
  createPullRequestUpdate,
  submitForReviewUpdate,
  taskViewQuery,
} from '../contracts/messages';
import { createLocalRuntime } from '../activities/preview/local';
import { stagingPreviewName } from '../activities/preview/runtime';
import { taskWorkflowId } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from './support/agents';
import { startTestApi, testConfig } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { FIXTURE_APP, git, localRepositoryUrl } from './support/git';

const FINAL = ['completed', 'failed', 'rolled_back'];

/**
 * Merging approved tasks into staging over the real stack: local forge (bare repositories, real
 * git) and staging run as a local preview of the fixture app. Tasks reach `approved` by driving
 * their workflows as an agent would, with branches pushed by plain git.
 */
describe('merge to staging', () => {
  jest.setTimeout(240_000);
  const taskQueue = uniqueTaskQueue('merge');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let agent: string;
  const workDirs: string[] = [];
  const projectIds: string[] = [];

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    agent = await registerTestAgent(api.deps.db, 'merge agent');
  });
  afterAll(async () => {
    // Staging environments run as local processes: stop them with the test.
    const previews = createLocalRuntime({
      previewsDir: path.join(testConfig().dataDir, 'previews'),
    });
    for (const id of projectIds) await previews.teardown(stagingPreviewName(id));
    await api.close();
    await worker.stop();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  const handle = (taskId: string): WorkflowHandle =>
    api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));

  /** A project whose staging branch holds the fixture app and a README; answers a clone of it. */
  async function createSeededProject(
    startCommand = 'node server.js',
  ): Promise<{ projectId: string; clone: string }> {
    const created = await createProject(http, {
      name: `merge-${randomUUID()}`,
      preview: { installCommand: 'true', startCommand, healthPath: '/healthz' },
    });
    projectIds.push(created.id);
    const clone = mkdtempSync(path.join(tmpdir(), 'merge-test-'));
    workDirs.push(clone);
    // The test works on the repository itself, as the operator (its agent is only a workflow id).
    git(clone, 'clone', localRepositoryUrl(created.id), '.');
    git(clone, 'checkout', '-B', 'staging', 'origin/staging');
    for (const f of ['server.js', 'package.json', 'message.txt'])
      copyFileSync(path.join(FIXTURE_APP, f), path.join(clone, f));
    writeFileSync(path.join(clone, 'README.md'), 'line one\nshared line\nline three\n');
    git(clone, 'add', '-A');
    git(clone, 'commit', '-m', 'the fixture app');
    git(clone, 'push', 'origin', 'staging');
    return { projectId: created.id, clone };
  }

  /** A task taken to `approved` with its branch changing `files`; answers its id and pinned commit. */
  async function approvedTask(
    project: { projectId: string; clone: string },
    files: Record<string, string>,
  ): Promise<{ taskId: string; commit: string }> {
    const created = await http.post('/api/tasks', {
      projectId: project.projectId,
      title: `change ${Object.keys(files).join(', ')}`,
      description: 'test change',
    });
    expect(created.status).toBe(201);
    const taskId: string = created.body.taskId;
    await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
    const { branch } = await executeTaskUpdate(handle(taskId), createBranchUpdate, {
      agentId: agent,
    });
    const { clone } = project;
    git(clone, 'fetch', 'origin');
    git(clone, 'checkout', '-B', branch, `origin/${branch}`);
    for (const [file, content] of Object.entries(files))
      writeFileSync(path.join(clone, file), content);
    git(clone, 'add', '-A');
    git(clone, 'commit', '-m', `work of ${taskId}`);
    git(clone, 'push', 'origin', branch);
    const commit = git(clone, 'rev-parse', 'HEAD');
    await executeTaskUpdate(handle(taskId), createPullRequestUpdate, { agentId: agent });
    await executeTaskUpdate(handle(taskId), submitForReviewUpdate, {
      agentId: agent,
      previewCommit: commit,
    });
    const approved = await http.post(`/api/tasks/${taskId}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ state: 'approved', approvedCommit: commit });
    return { taskId, commit };
  }

  async function waitForMerge(mergeId: string): Promise<any> {
    for (let i = 0; i < 900; i++) {
      const res = await http.get(`/api/merges/${mergeId}`);
      if (res.status === 200 && FINAL.includes(res.body.state)) return res.body;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`merge ${mergeId} did not finish`);
  }

  /** The files on staging and its head, fetched fresh. */
  function staging(clone: string): { head: string; files: string[] } {
    git(clone, 'fetch', 'origin');
    return {
      head: git(clone, 'rev-parse', 'origin/staging'),
      files: git(clone, 'ls-tree', '--name-only', 'origin/staging').split('\n'),
    };
  }

  it('merges a batch in order, sends a conflicting task back, deploys staging', async () => {
    const project = await createSeededProject();
    const first = await approvedTask(project, {
      'first.txt': 'one\n',
      'README.md': 'line one\nfirst\nline three\n',
    });
    const second = await approvedTask(project, { 'README.md': 'line one\nsecond\nline three\n' });
    const third = await approvedTask(project, { 'third.txt': 'three\n' });

    const res = await http.post('/api/merge', {
      taskIds: [first.taskId, second.taskId, third.taskId],
    });
    expect(res.status).toBe(202);
    const mergeId: string = res.body.mergeId;
    // The batch is readable at once.
    expect((await http.get(`/api/merges/${mergeId}`)).status).toBe(200);

    const merge = await waitForMerge(mergeId);
    expect(merge).toMatchObject({
      id: mergeId,
      projectId: project.projectId,
      state: 'completed',
      environment: 'staging',
      deployUrl: expect.any(String),
    });
    expect(merge.tasks).toEqual([
      { taskId: first.taskId, result: 'deployed', commit: expect.any(String), detail: null },
      { taskId: second.taskId, result: 'conflict', commit: null, detail: 'README.md' },
      { taskId: third.taskId, result: 'deployed', commit: expect.any(String), detail: null },
    ]);

    const { head, files } = staging(project.clone);
    expect(head).toBe(merge.headSha);
    expect(files).toEqual(expect.arrayContaining(['first.txt', 'third.txt']));
    git(project.clone, 'merge-base', '--is-ancestor', first.commit, 'origin/staging');
    git(project.clone, 'merge-base', '--is-ancestor', third.commit, 'origin/staging');
    expect(() =>
      git(project.clone, 'merge-base', '--is-ancestor', second.commit, 'origin/staging'),
    ).toThrow();
    expect(git(project.clone, 'show', 'origin/staging:README.md')).toContain('first');

    const page = await fetch(merge.deployUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Hello from the preview app');

    expect((await http.get(`/api/tasks/${first.taskId}`)).body.state).toBe('staging');
    expect((await http.get(`/api/tasks/${third.taskId}`)).body.state).toBe('staging');
    const conflicted = await handle(second.taskId).query(taskViewQuery);
    expect(conflicted).toMatchObject({ state: 'changes_requested', mergeId: null });
    expect(conflicted.feedback.join('\n')).toContain('README.md');

    // The project's events were logged for catching up.
    const events = await api.deps.db.taskEvent.findMany({
      where: { projectId: project.projectId, taskId: null },
      orderBy: { id: 'asc' },
    });
    const types = events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['merge:progress', 'deploy:started', 'deploy:completed']),
    );
    expect(types.filter((t) => t === 'deploy:completed')).toHaveLength(1);
  });

  it('refuses requests that cannot merge and leaves nothing behind', async () => {
    const project = await createSeededProject();
    const other = await createSeededProject();
    const approved = await approvedTask(project, { 'a.txt': 'a\n' });
    const elsewhere = await approvedTask(other, { 'b.txt': 'b\n' });
    const backlog = await http.post('/api/tasks', {
      projectId: project.projectId,
      title: 'not yet',
      description: '',
    });
    const backlogId: string = backlog.body.taskId;
    const merges = () =>
      api.deps.db.merge.count({
        where: { projectId: { in: [project.projectId, other.projectId] } },
      });
    const before = await merges();

    const notApproved = await http.post('/api/merge', { taskIds: [approved.taskId, backlogId] });
    expect(notApproved.status).toBe(409);
    expect(notApproved.body.error.message).toContain(`${backlogId} is backlog`);
    expect(notApproved.body.error.message).not.toContain(approved.taskId);

    const mixed = await http.post('/api/merge', { taskIds: [approved.taskId, elsewhere.taskId] });
    expect(mixed.status).toBe(400);

    const unknownId = randomUUID();
    const unknown = await http.post('/api/merge', { taskIds: [approved.taskId, unknownId] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain(unknownId);

    for (const body of [
      {},
      { taskIds: [] },
      { taskIds: ['x'] },
      { taskIds: [approved.taskId, approved.taskId] },
    ]) {
      expect((await http.post('/api/merge', body)).status).toBe(400);
    }
    expect((await http.get(`/api/merges/${randomUUID()}`)).status).toBe(404);

    expect(await merges()).toBe(before);
    expect((await http.get(`/api/tasks/${approved.taskId}`)).body).toMatchObject({
      state: 'approved',
      mergeId: null,
    });
  });

  it('queues a second merge of the project behind the first', async () => {
    const project = await createSeededProject();
    const a = await approvedTask(project, { 'a.txt': 'a\n' });
    const b = await approvedTask(project, { 'b.txt': 'b\n' });
    const first = await http.post('/api/merge', { taskIds: [a.taskId] });
    const second = await http.post('/api/merge', { taskIds: [b.taskId] });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    // A task already in a batch cannot be asked for again.
    const again = await http.post('/api/merge', { taskIds: [a.taskId] });
    expect(again.status).toBe(409);

    const m1 = await waitForMerge(first.body.mergeId);
    const m2 = await waitForMerge(second.body.mergeId);
    expect(m1.state).toBe('completed');
    expect(m2.state).toBe('completed');
    // One after the other: the second started from the first's staging.
    expect(m2.baseSha).toBe(m1.headSha);
    expect(new Date(m2.updatedAt).getTime()).toBeGreaterThan(new Date(m1.updatedAt).getTime());
    const list = await http.get(`/api/merges?projectId=${project.projectId}`);
    expect(list.body.merges.map((m: { id: string }) => m.id).sort()).toEqual(
      [first.body.mergeId, second.body.mergeId].sort(),
    );
  });

  it('puts a task in one batch when several requests for it arrive at once', async () => {
    const project = await createSeededProject();
    const task = await approvedTask(project, { 'c.txt': 'c\n' });
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => http.post('/api/merge', { taskIds: [task.taskId] })),
    );
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 202)) {
      expect(refused.status).toBe(409);
      // Refused by the API's check or by the queue; or, when it came late, because the task
      // had already been merged.
      expect(refused.body.error.message).toMatch(
        new RegExp(`${task.taskId} is (already in merge|staging)`),
      );
    }
    expect((await waitForMerge(accepted[0]!.body.mergeId)).state).toBe('completed');
    const list = await http.get(`/api/merges?projectId=${project.projectId}`);
    expect(list.body.merges).toHaveLength(1);
  });

  it('rolls staging back when the deployment fails', async () => {
    const project = await createSeededProject('node -e "process.exit(3)"');
    const a = await approvedTask(project, { 'a.txt': 'a\n' });
    const b = await approvedTask(project, { 'b.txt': 'b\n' });
    const base = staging(project.clone).head;

    const res = await http.post('/api/merge', { taskIds: [a.taskId, b.taskId] });
    expect(res.status).toBe(202);
    const merge = await waitForMerge(res.body.mergeId);
    expect(merge).toMatchObject({ state: 'rolled_back', baseSha: base });
    expect(merge.detail).toContain('staging did not become healthy');
    expect(merge.tasks.map((t: { result: string }) => t.result)).toEqual([
      'rolled_back',
      'rolled_back',
    ]);
    expect(staging(project.clone).head).toBe(base);
    for (const t of [a, b]) {
      expect(await handle(t.taskId).query(taskViewQuery)).toMatchObject({
        state: 'approved',
        mergeId: null,
        approvedCommit: t.commit,
      });
    }
    const failed = await api.deps.db.taskEvent.count({
      where: { projectId: project.projectId, taskId: null, type: 'deploy:failed' },
    });
    expect(failed).toBe(1);
  });
});
