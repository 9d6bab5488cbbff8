import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import {
  claimTaskUpdate,
  createBranchUpdate,
  createPullRequestUpdate,
  submitForReviewUpdate,
} from '../contracts/messages';
import type { MergeView } from '../contracts/merge';
import { createLocalRuntime } from '../activities/preview/local';
import { stagingPreviewName } from '../activities/preview/runtime';
import { taskWorkflowId } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from './support/agents';
import { startTestApi, testConfig } from './support/api';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { uniqueTaskQueue } from './support/worker';
import { WorkerProcess } from './support/worker-process';
import { FIXTURE_APP, git, localRepositoryPath, localRepositoryUrl } from './support/git';

const FINAL = ['completed', 'failed', 'rolled_back'];
const TASKS = 6;

/** The commits on `branch` after `base`, oldest first, following the first parent (staging's own line). */
function lineSince(bare: string, base: string, branch: string): string[] {
  const out = git(bare, 'rev-list', '--first-parent', '--reverse', `${base}..${branch}`);
  return out ? out.split('\n') : [];
}

function parentsOf(bare: string, commit: string): string[] {
  return git(bare, 'rev-list', '--parents', '-n', '1', commit).split(' ').slice(1);
}

/**
 * Staging as one consistent history: every commit since `base` is a two-parent merge of the
 * previous staging head and one task's pinned commit, whose tree is exactly what merging those
 * two gives; never a commit holding part of a merge. Answers the task commits merged, in order.
 */
function checkStaging(bare: string, base: string, pinned: string[]): string[] {
  git(bare, 'merge-base', '--is-ancestor', base, 'staging');
  let previous = base;
  const merged: string[] = [];
  for (const commit of lineSince(bare, base, 'staging')) {
    const parents = parentsOf(bare, commit);
    expect(parents).toHaveLength(2);
    expect(parents[0]).toBe(previous);
    expect(pinned).toContain(parents[1]);
    const expectedTree = git(bare, 'merge-tree', '--write-tree', parents[0]!, parents[1]!);
    expect(git(bare, 'rev-parse', `${commit}^{tree}`)).toBe(expectedTree);
    merged.push(parents[1]!);
    previous = commit;
  }
  // Every object staging reaches is present and sound.
  git(bare, 'fsck', '--no-dangling', '--no-progress');
  return merged;
}

/**
 * The worker dies (SIGKILL) in the middle of a batch merge. Staging is only ever before or after a
 * task's merge; a new worker finishes the batch, merging each task exactly once, and deploys it.
 */
describe('a batch merge through a killed worker', () => {
  jest.setTimeout(300_000);
  const taskQueue = uniqueTaskQueue('merge-durability');
  const worker = new WorkerProcess({ TEMPORAL_TASK_QUEUE: taskQueue });
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let board: TestBoard | undefined;
  let agent: string;
  const workDirs: string[] = [];
  const projectIds: string[] = [];

  beforeAll(async () => {
    await worker.start();
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    agent = await registerTestAgent(api.deps.db, 'merge durability agent');
  });
  afterAll(async () => {
    board?.close();
    // The worker process shares this run's data folder: its staging environments are stopped here.
    const previews = createLocalRuntime({
      previewsDir: path.join(testConfig().dataDir, 'previews'),
    });
    for (const id of projectIds) await previews.teardown(stagingPreviewName(id));
    await worker.stop();
    await api.close();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  const handle = (taskId: string): WorkflowHandle =>
    api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));

  async function waitForMerge(mergeId: string): Promise<MergeView> {
    for (let i = 0; i < 900; i++) {
      const res = await http.get(`/api/merges/${mergeId}`);
      if (res.status === 200 && FINAL.includes(res.body.state)) return res.body;
      await new Promise((r) => setTimeout(r, 200));
    }
    const last = (await http.get(`/api/merges/${mergeId}`)).body;
    throw new Error(`merge ${mergeId} did not finish: ${JSON.stringify(last)}`);
  }

  it('leaves staging before or after each merge and completes the batch after a restart', async () => {
    const projectId: string = (
      await createProject(http, {
        name: `merge-durability-${randomUUID()}`,
        preview: { installCommand: 'true', startCommand: 'node server.js', healthPath: '/healthz' },
      })
    ).id;
    projectIds.push(projectId);
    // The test works on the repository itself, as the operator (its agent is only a workflow id).
    const bare = localRepositoryPath(projectId);
    const clone = mkdtempSync(path.join(tmpdir(), 'merge-durability-'));
    workDirs.push(clone);
    git(clone, 'clone', '--quiet', localRepositoryUrl(projectId), '.');
    git(clone, 'checkout', '--quiet', '-B', 'staging', 'origin/staging');
    for (const f of ['server.js', 'package.json', 'message.txt'])
      copyFileSync(path.join(FIXTURE_APP, f), path.join(clone, f));
    git(clone, 'add', '-A');
    git(clone, 'commit', '--quiet', '-m', 'the fixture app');
    git(clone, 'push', '--quiet', 'origin', 'staging');
    const base = git(bare, 'rev-parse', 'staging');

    // Approved tasks, each adding its own file; the last also changes the page.
    const tasks: Array<{ taskId: string; commit: string }> = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await http.post('/api/tasks', {
        projectId,
        title: `note ${i}`,
        description: 'adds a note',
      });
      expect(res.status).toBe(201);
      const taskId: string = res.body.taskId;
      await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
      const { branch } = await executeTaskUpdate(handle(taskId), createBranchUpdate, {
        agentId: agent,
      });
      git(clone, 'fetch', '--quiet', 'origin');
      git(clone, 'checkout', '--quiet', '-B', branch, `origin/${branch}`);
      mkdirSync(path.join(clone, 'notes'), { recursive: true });
      writeFileSync(path.join(clone, 'notes', `${i}.txt`), `note ${i}\n`);
      if (i === TASKS - 1)
        writeFileSync(path.join(clone, 'message.txt'), 'Merged through a crash\n');
      git(clone, 'add', '-A');
      git(clone, 'commit', '--quiet', '-m', `work of ${taskId}`);
      git(clone, 'push', '--quiet', 'origin', branch);
      const commit = git(clone, 'rev-parse', 'HEAD');
      await executeTaskUpdate(handle(taskId), createPullRequestUpdate, { agentId: agent });
      await executeTaskUpdate(handle(taskId), submitForReviewUpdate, {
        agentId: agent,
        previewCommit: commit,
      });
      const approved = await http.post(`/api/tasks/${taskId}/approve`);
      expect(approved.body).toMatchObject({ state: 'approved', approvedCommit: commit });
      tasks.push({ taskId, commit });
    }
    const pinned = tasks.map((t) => t.commit);

    // The worker is killed from the board's event stream, the moment the first task's result is
    // recorded (the third `merging` step: started, base read, first task), while the rest merge.
    board = await TestBoard.connect(api.url, api.adminToken, { poll: true });
    await board.subscribe(projectId);
    const progress = new Set<number>();
    const killed = new Promise<void>((resolve, reject) => {
      const onProgress = (e: { state: string; seq: number }) => {
        if (e.state === 'merging') progress.add(e.seq);
        if (progress.size < 3 && ['queued', 'merging'].includes(e.state)) return;
        // Once only: the restarted worker's progress must not kill it again.
        board!.socket.off('merge:progress', onProgress);
        worker.kill().then(() => resolve(), reject);
      };
      board!.socket.on('merge:progress', onProgress);
    });
    const res = await http.post('/api/merge', { taskIds: tasks.map((t) => t.taskId) });
    expect(res.status).toBe(202);
    const mergeId: string = res.body.mergeId;
    await killed;

    // While no worker runs: staging is a clean prefix of the batch, and every task the read model
    // already calls merged is on it.
    const mergedWhileDown = checkStaging(bare, base, pinned);
    expect(mergedWhileDown).toEqual(pinned.slice(0, mergedWhileDown.length));
    const down: MergeView = (await http.get(`/api/merges/${mergeId}`)).body;
    const recorded = down.tasks.filter((t) => t.result === 'merged').map((t) => t.taskId);
    for (const taskId of recorded) {
      expect(mergedWhileDown).toContain(tasks.find((t) => t.taskId === taskId)!.commit);
    }

    await worker.start();
    const merge = await waitForMerge(mergeId);
    expect(merge).toMatchObject({
      state: 'completed',
      baseSha: base,
      headSha: git(bare, 'rev-parse', 'staging'),
      environment: 'staging',
      deployUrl: expect.any(String),
    });
    expect(merge.tasks.map((t) => [t.taskId, t.result])).toEqual(
      tasks.map((t) => [t.taskId, 'deployed']),
    );

    // Each pinned commit is on staging, merged exactly once, in the batch's order.
    expect(checkStaging(bare, base, pinned)).toEqual(pinned);
    const merges = git(bare, 'rev-list', '--merges', '--parents', `${base}..staging`)
      .split('\n')
      .map((line) => line.split(' ')[2]);
    for (const commit of pinned) {
      git(bare, 'merge-base', '--is-ancestor', commit, 'staging');
      expect(merges.filter((second) => second === commit)).toHaveLength(1);
    }

    for (const t of tasks) {
      expect((await http.get(`/api/tasks/${t.taskId}`)).body.state).toBe('staging');
    }
    const page = await fetch(merge.deployUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Merged through a crash');
    const deployed = await api.deps.db.taskEvent.count({
      where: { projectId, taskId: null, type: 'deploy:completed' },
    });
    expect(deployed).toBe(1);
  });
});
