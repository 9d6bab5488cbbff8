import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeDb } from '../../db/client';
import { openTestDb } from '../../test/support/db';
import type { Db } from '../../db/client';
import { insertProject } from '../../db/projects';
import { ForgeRefusal, STAGING_BRANCH } from './forge';
import type { Forge, RepoRef } from './forge';
import { git } from './git';
import { createLocalForge } from './local';

/** A person's (or an agent's) clone of a project, driven with plain git commands. */
class WorkClone {
  constructor(readonly dir: string) {}

  async run(...args: string[]): Promise<string> {
    return (await git(args, { cwd: this.dir })).stdout.trim();
  }

  /** Writes the files, commits them on `branch` (created from `from` when new) and pushes. */
  async commit(
    branch: string,
    files: Record<string, string | Buffer>,
    subject: string,
    from = `origin/${STAGING_BRANCH}`,
  ): Promise<string> {
    await this.run('fetch', '--quiet', 'origin');
    const exists = (await this.run('branch', '--list', branch)) !== '';
    await this.run('checkout', '--quiet', ...(exists ? [branch] : ['-b', branch, from]));
    for (const [file, content] of Object.entries(files)) {
      writeFileSync(path.join(this.dir, file), content);
    }
    await this.run('add', '--all');
    await this.run('commit', '--quiet', '-m', subject);
    await this.run('push', '--quiet', 'origin', branch);
    return await this.run('rev-parse', 'HEAD');
  }
}

describe('local forge', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'aiworker-forge-'));
  const reposDir = path.join(tmp, 'repos');
  let db: Db;
  let forge: Forge;

  async function newProject(): Promise<RepoRef> {
    const id = randomUUID();
    await insertProject(db, { id, name: `forge-${id}`, repository: { provider: 'local' } });
    return { projectId: id, provider: 'local', owner: null, name: null };
  }

  async function cloneOf(repo: RepoRef): Promise<WorkClone> {
    const dir = path.join(tmp, `clone-${randomUUID()}`);
    await git(['clone', '--quiet', await forge.cloneUrl(repo), dir]);
    return new WorkClone(dir);
  }

  async function showStaging(repo: RepoRef, file: string): Promise<string | null> {
    const dir = fileURLToPath(await forge.cloneUrl(repo));
    const out = await git(['show', `${STAGING_BRANCH}:${file}`], { cwd: dir, okExitCodes: [128] });
    return out.exitCode === 0 ? out.stdout : null;
  }

  beforeAll(() => {
    db = openTestDb();
    forge = createLocalForge({
      reposDir,
      db,
      pullRequestUrl: (projectId, number) =>
        `http://board.test/projects/${projectId}/pulls/${number}`,
    });
  });
  afterAll(async () => {
    await closeDb(db);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('creates a bare repository with main and staging, idempotently', async () => {
    const repo = await newProject();
    await expect(forge.cloneUrl(repo)).rejects.toThrow(
      new ForgeRefusal(`no repository for project ${repo.projectId}`),
    );
    const { cloneUrl } = await forge.ensureRepository(repo);
    expect(cloneUrl).toBe(`file://${path.join(reposDir, `${repo.projectId}.git`)}`);
    const main = await forge.branchHead(repo, 'main');
    expect(main).toMatch(/^[0-9a-f]{40}$/);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(main);
    expect(await showStaging(repo, 'README.md')).toContain(repo.projectId);

    expect(await forge.ensureRepository(repo)).toEqual({ cloneUrl });
    expect(await forge.branchHead(repo, 'main')).toBe(main);

    // A repository that lost its staging branch gets it back, at main.
    await git(['update-ref', '-d', 'refs/heads/staging'], { cwd: fileURLToPath(cloneUrl) });
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBeNull();
    await forge.ensureRepository(repo);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(main);

    const clone = await cloneOf(repo);
    expect(await clone.run('log', '--format=%an <%ae>', 'origin/main')).toBe(
      'aiworker <aiworker@localhost>',
    );
  });

  it('creates branches once, and lists the commits a branch adds', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const staging = await forge.branchHead(repo, STAGING_BRANCH);
    expect(await forge.createBranch(repo, 'task-1-feature', STAGING_BRANCH)).toEqual({
      created: true,
      sha: staging,
    });
    const clone = await cloneOf(repo);
    await clone.commit('task-1-feature', { 'a.txt': 'a\n' }, 'Add a', 'origin/task-1-feature');
    const pushed = await clone.commit('task-1-feature', { 'b.txt': 'b\n' }, 'Add b');
    expect(await forge.branchHead(repo, 'task-1-feature')).toBe(pushed);
    expect(await forge.createBranch(repo, 'task-1-feature', STAGING_BRANCH)).toEqual({
      created: false,
      sha: pushed,
    });
    expect(
      (await forge.commitsBetween(repo, STAGING_BRANCH, 'task-1-feature')).map((c) => c.subject),
    ).toEqual(['Add a', 'Add b']);
    await expect(forge.createBranch(repo, 'task-2-feature', 'no-such-branch')).rejects.toThrow(
      ForgeRefusal,
    );
    await expect(forge.createBranch(repo, '--upload-pack=x', STAGING_BRANCH)).rejects.toThrow(
      ForgeRefusal,
    );
    expect(await forge.branchHead(repo, 'task-2-feature')).toBeNull();
  });

  it('numbers pull requests per project, reuses the open one of a head, and summarises the diff', async () => {
    const repo = await newProject();
    const other = await newProject();
    await forge.ensureRepository(repo);
    await forge.ensureRepository(other);
    const clone = await cloneOf(repo);

    await expect(
      forge.openPullRequest(repo, {
        head: 'task-9-feature',
        base: STAGING_BRANCH,
        title: 't',
        body: '',
      }),
    ).rejects.toThrow(/push your branch first/);

    const binary = Buffer.from([0, 1, 2, 3, 0, 255]);
    await clone.commit(
      'task-1-feature',
      { 'README.md': 'replaced\n', 'new.txt': 'one\ntwo\nthree\n', 'logo.bin': binary },
      'Work',
    );
    const first = await forge.openPullRequest(repo, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 'First',
      body: 'Body',
      taskId: 'task-1',
    });
    expect(first).toMatchObject({
      number: 1,
      url: `http://board.test/projects/${repo.projectId}/pulls/1`,
      state: 'open',
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      mergeable: true,
      filesChanged: 3,
      additions: 4,
      deletions: 3,
    });
    expect(first.files).toEqual([
      { path: 'README.md', additions: 1, deletions: 3 },
      { path: 'logo.bin', additions: 0, deletions: 0 },
      { path: 'new.txt', additions: 3, deletions: 0 },
    ]);

    const head = await clone.commit('task-1-feature', { 'more.txt': 'x\n' }, 'More');
    const again = await forge.openPullRequest(repo, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 'First, renamed',
      body: 'Body 2',
    });
    expect(again).toMatchObject({ number: 1, headSha: head, filesChanged: 4, additions: 5 });
    const row = await db.pullRequest.findFirstOrThrow({
      where: { projectId: repo.projectId, number: 1 },
    });
    expect(row).toMatchObject({ title: 'First, renamed', body: 'Body 2', taskId: 'task-1' });

    await clone.commit('task-2-feature', { 'two.txt': '2\n' }, 'Two');
    const second = await forge.openPullRequest(repo, {
      head: 'task-2-feature',
      base: STAGING_BRANCH,
      title: 'Second',
      body: '',
    });
    expect(second.number).toBe(2);

    const otherClone = await cloneOf(other);
    await otherClone.commit('task-1-feature', { 'x.txt': 'x\n' }, 'X');
    const elsewhere = await forge.openPullRequest(other, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 'Other project',
      body: '',
    });
    expect(elsewhere.number).toBe(1);
  });

  it('gives concurrent pull requests of different heads distinct numbers', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const heads = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    for (const h of heads) await clone.commit(h, { [`${h}.txt`]: `${h}\n` }, h);
    const prs = await Promise.all(
      heads.map((h) =>
        forge.openPullRequest(repo, { head: h, base: STAGING_BRANCH, title: h, body: '' }),
      ),
    );
    expect(prs.map((p) => p.number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('merges a pull request into staging once, and reports a retry as already merged', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const before = await forge.branchHead(repo, STAGING_BRANCH);
    const commit = await clone.commit('task-1-feature', { 'feature.txt': 'done\n' }, 'Feature');
    const pr = await forge.openPullRequest(repo, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 'Feature',
      body: '',
    });

    const outcome = await forge.mergePullRequest(repo, {
      number: pr.number,
      commit,
      message: 'Merge task 1',
    });
    expect(outcome).toEqual({ merged: true, mergeSha: expect.any(String), alreadyMerged: false });
    const mergeSha = (outcome as { mergeSha: string }).mergeSha;
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(mergeSha);
    expect(await showStaging(repo, 'feature.txt')).toBe('done\n');
    await clone.run('fetch', '--quiet', 'origin');
    expect(await clone.run('log', '-1', '--format=%P|%s', mergeSha)).toBe(
      `${before} ${commit}|Merge task 1`,
    );

    expect(
      await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'Merge task 1' }),
    ).toEqual({ merged: true, mergeSha, alreadyMerged: true });
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(mergeSha);
    expect(await forge.getPullRequest(repo, pr.number)).toMatchObject({
      state: 'merged',
      mergeable: null,
    });
    await expect(forge.getPullRequest(repo, 99)).rejects.toThrow(ForgeRefusal);
  });

  it('merges only the pinned commit when the branch has moved on', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const approved = await clone.commit('task-1-feature', { 'approved.txt': 'yes\n' }, 'Approved');
    const pr = await forge.openPullRequest(repo, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    await clone.commit('task-1-feature', { 'later.txt': 'not reviewed\n' }, 'Later');

    const outcome = await forge.mergePullRequest(repo, {
      number: pr.number,
      commit: approved,
      message: 'Merge',
    });
    expect(outcome.merged).toBe(true);
    expect(await showStaging(repo, 'approved.txt')).toBe('yes\n');
    expect(await showStaging(repo, 'later.txt')).toBeNull();

    // A commit that was never on the pull request's branch cannot be merged through it.
    const stranger = await clone.commit('elsewhere', { 'e.txt': 'e\n' }, 'Elsewhere');
    await expect(
      forge.mergePullRequest(repo, { number: pr.number, commit: stranger, message: 'Merge' }),
    ).rejects.toThrow(/is not on task-1-feature/);
  });

  it('leaves staging untouched on a conflict and names the conflicting files', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const a = await clone.commit('task-a', { 'README.md': 'from a\n', 'a.txt': 'a\n' }, 'A');
    const b = await clone.commit('task-b', { 'README.md': 'from b\n', 'b.txt': 'b\n' }, 'B');
    const prA = await forge.openPullRequest(repo, {
      head: 'task-a',
      base: STAGING_BRANCH,
      title: 'A',
      body: '',
    });
    const prB = await forge.openPullRequest(repo, {
      head: 'task-b',
      base: STAGING_BRANCH,
      title: 'B',
      body: '',
    });
    expect(prB.mergeable).toBe(true);

    expect(
      (await forge.mergePullRequest(repo, { number: prA.number, commit: a, message: 'A' })).merged,
    ).toBe(true);
    const staging = await forge.branchHead(repo, STAGING_BRANCH);
    expect(
      await forge.mergePullRequest(repo, { number: prB.number, commit: b, message: 'B' }),
    ).toEqual({
      merged: false,
      conflicts: ['README.md'],
    });
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(staging);
    expect(await showStaging(repo, 'b.txt')).toBeNull();
    expect(await forge.getPullRequest(repo, prB.number)).toMatchObject({
      state: 'open',
      mergeable: false,
    });
  });

  it('merges concurrent pull requests one after the other without losing either', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const heads = ['p1', 'p2', 'p3'];
    const work: Array<{ number: number; commit: string }> = [];
    for (const h of heads) {
      const commit = await clone.commit(h, { [`${h}.txt`]: `${h}\n` }, h);
      const pr = await forge.openPullRequest(repo, {
        head: h,
        base: STAGING_BRANCH,
        title: h,
        body: '',
      });
      work.push({ number: pr.number, commit });
    }
    const outcomes = await Promise.all(
      work.map((w) => forge.mergePullRequest(repo, { ...w, message: `Merge ${w.number}` })),
    );
    expect(outcomes.every((o) => o.merged)).toBe(true);
    for (const h of heads) expect(await showStaging(repo, `${h}.txt`)).toBe(`${h}\n`);
  });

  it('resets a branch only from the commit it expects', async () => {
    const repo = await newProject();
    await forge.ensureRepository(repo);
    const clone = await cloneOf(repo);
    const before = (await forge.branchHead(repo, STAGING_BRANCH))!;
    const commit = await clone.commit('task-1-feature', { 'f.txt': 'f\n' }, 'F');
    const pr = await forge.openPullRequest(repo, {
      head: 'task-1-feature',
      base: STAGING_BRANCH,
      title: 'F',
      body: '',
    });
    const merged = await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'M' });
    const mergeSha = (merged as { mergeSha: string }).mergeSha;

    await forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: mergeSha });
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(before);
    // Again: already there, nothing to do.
    await forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: mergeSha });
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(before);

    // Staging moved on (a later merge): a rollback from the stale value must not undo it.
    const again = await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'M2' });
    expect(again).toMatchObject({ merged: true, alreadyMerged: false });
    const moved = await forge.branchHead(repo, STAGING_BRANCH);
    await expect(
      forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: mergeSha }),
    ).rejects.toThrow(/someone moved it since/);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(moved);
  });
});
