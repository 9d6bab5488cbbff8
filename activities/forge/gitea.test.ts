// The Gitea forge over real HTTP against the Gitea test server (test/servers/gitea-server.ts),
// whose repositories are real bare repositories served over git's smart HTTP protocol.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../test/support/free-port';
import type { GiteaTestServer } from '../../test/servers/gitea-server';
import { startGiteaTestServer } from '../../test/servers/gitea-server';
import type { Forge, RepoRef } from './forge';
import { ForgeRefusal, ForgeUnavailable, STAGING_BRANCH, taskBranch } from './forge';
import { createGiteaForge } from './gitea';

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_GLOBAL: '/dev/null' };

let server: GiteaTestServer;
let forge: Forge;
const thrown: Error[] = [];

const ref = (name: string, owner: string | null = 'acme'): RepoRef => ({
  projectId: `project-${name}`,
  provider: 'gitea',
  owner,
  name,
});

/** The error `work` rejects with; every one is kept to check none carries a token. */
async function failure(work: Promise<unknown>): Promise<Error> {
  const err = await work.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error(`rejected with a non-error: ${String(err)}`);
  thrown.push(err);
  return err;
}

/** A repository with `main`, `staging` and a task branch with one commit of `file`. */
async function repoWithTask(name: string, task: string, file = `${task}.txt`) {
  const repo = ref(name);
  await forge.ensureRepository(repo);
  await forge.createBranch(repo, taskBranch(task), STAGING_BRANCH);
  const commit = await server.commitFile('acme', name, taskBranch(task), file, 'one\ntwo\n');
  return { repo, commit };
}

beforeAll(async () => {
  server = await startGiteaTestServer();
  server.addOrganization('acme');
  forge = createGiteaForge({ baseUrl: server.url, token: server.token, username: server.username });
});

afterAll(async () => {
  await server.close();
});

describe('repositories', () => {
  test('ensureRepository creates an org repository with a first commit and staging, once', async () => {
    const repo = ref('shop');
    const first = await forge.ensureRepository(repo);
    const main = await forge.branchHead(repo, 'main');
    expect(main).toMatch(/^[0-9a-f]{40}$/);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(main);

    const creates = () => server.requests.filter((r) => r.path === '/api/v1/orgs/acme/repos');
    expect(creates()).toHaveLength(1);
    expect(await forge.ensureRepository(repo)).toEqual(first);
    expect(creates()).toHaveLength(1);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(main);
    // Its Actions are off (a workflow file an agent pushes must not run on the instance's
    // runners), turned off once.
    const edits = () =>
      server.requests.filter((r) => r.method === 'PATCH' && r.path === '/api/v1/repos/acme/shop');
    expect(edits()).toHaveLength(1);
    const settings = await fetch(`${server.url}/api/v1/repos/acme/shop`, {
      headers: { authorization: `token ${server.token}` },
    });
    expect(await settings.json()).toMatchObject({ has_actions: false });

    // The forge's clone URL carries no credentials; with the forge's git environment (the
    // token as a header) it works with git as it is, over smart HTTP.
    expect(new URL(first.cloneUrl).password).toBe('');
    const env = { ...gitEnv, ...forge.gitEnv(first.cloneUrl) };
    const dir = await mkdtemp(join(tmpdir(), 'gitea-clone-'));
    try {
      await run('git', ['clone', '--quiet', first.cloneUrl, dir], { env });
      expect(await readFile(join(dir, 'README.md'), 'utf8')).toContain('shop');
      // ...and pushes with it.
      const identity = ['-c', 'user.name=agent', '-c', 'user.email=agent@localhost'];
      await run('git', [...identity, 'commit', '--quiet', '--allow-empty', '-m', 'work'], {
        cwd: dir,
        env,
      });
      await run('git', ['push', '--quiet', 'origin', 'HEAD:refs/heads/pushed'], {
        cwd: dir,
        env,
      });
      const pushed = await run('git', ['rev-parse', 'HEAD'], { cwd: dir, env });
      expect(await forge.branchHead(repo, 'pushed')).toBe(pushed.stdout.trim());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a repository of the token's own user is created under the user", async () => {
    await forge.ensureRepository(ref('mine', server.username));
    expect(
      server.requests.some((r) => r.method === 'POST' && r.path === '/api/v1/user/repos'),
    ).toBe(true);
    expect(await forge.branchHead(ref('mine', server.username), STAGING_BRANCH)).not.toBeNull();
  });

  test('an owner that is neither an organisation nor the user is refused', async () => {
    const err = await failure(forge.ensureRepository(ref('app', 'someone-else')));
    expect(err).toBeInstanceOf(ForgeRefusal);
    expect(err.message).toMatch(/"someone-else" is not an organisation/);
  });

  test('a repository reference without owner or name is refused before any request', async () => {
    const before = server.requests.length;
    const noOwner = await failure(forge.ensureRepository(ref('app', null)));
    expect(noOwner).toBeInstanceOf(ForgeRefusal);
    expect(noOwner.message).toMatch(/no Gitea repository owner/);
    const noName = await failure(forge.cloneUrl({ ...ref('x'), name: null }));
    expect(noName.message).toMatch(/no Gitea repository name/);
    expect(server.requests.length).toBe(before);
  });

  test("aiworker's own git reads the plain URL with gitEnv, and the token stays off disk", async () => {
    const plain = await forge.cloneUrl(ref('shop'));
    const dir = await mkdtemp(join(tmpdir(), 'gitea-env-clone-'));
    try {
      // Without the header, the test server refuses the clone, as Gitea does a private repository.
      await expect(
        run('git', ['clone', '--quiet', plain, join(dir, 'refused')], { env: gitEnv }),
      ).rejects.toThrow();
      await run('git', ['clone', '--quiet', plain, join(dir, 'app')], {
        env: { ...gitEnv, ...forge.gitEnv(plain) },
      });
      expect(await readFile(join(dir, 'app', 'README.md'), 'utf8')).toContain('shop');
      const config = await readFile(join(dir, 'app', '.git', 'config'), 'utf8');
      expect(config).toContain(plain);
      expect(config).not.toContain(server.token);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an unknown repository is a refusal naming it', async () => {
    const err = await failure(forge.cloneUrl(ref('nope')));
    expect(err).toBeInstanceOf(ForgeRefusal);
    expect(err.message).toMatch(/^repository acme\/nope not found on Gitea/);
    expect((err as ForgeRefusal).status).toBe(404);
    expect((await failure(forge.branchHead(ref('nope'), 'main'))).message).toMatch(
      /^repository acme\/nope not found/,
    );
  });
});

describe('branches and commits', () => {
  test('createBranch creates at the head of from, then reuses the branch as it is (409)', async () => {
    const repo = ref('branches');
    await forge.ensureRepository(repo);
    const staging = await forge.branchHead(repo, STAGING_BRANCH);
    const made = await forge.createBranch(repo, taskBranch('1'), STAGING_BRANCH);
    expect(made).toEqual({ created: true, sha: staging });

    const moved = await server.commitFile('acme', 'branches', taskBranch('1'), 'a.txt', 'a\n');
    expect(await forge.createBranch(repo, taskBranch('1'), STAGING_BRANCH)).toEqual({
      created: false,
      sha: moved,
    });
    expect(await forge.branchHead(repo, taskBranch('1'))).toBe(moved);
    expect(await forge.branchHead(repo, 'no-such-branch')).toBeNull();
  });

  test('a missing branch to start from, or an invalid name, is refused', async () => {
    const repo = ref('branches');
    const missing = await failure(forge.createBranch(repo, 'x', 'no-such-branch'));
    expect(missing).toBeInstanceOf(ForgeRefusal);
    expect(missing.message).toMatch(/branch no-such-branch does not exist in acme\/branches/);
    const invalid = await failure(forge.createBranch(repo, '--upload-pack=evil', 'main'));
    expect(invalid.message).toMatch(/not a valid branch name/);
  });

  test("a 409 that is not about an existing branch is a refusal with Gitea's message", async () => {
    server.failNext(
      { method: 'POST', path: /\/repos\/acme\/branches\/branches$/ },
      { status: 409 },
    );
    const err = await failure(forge.createBranch(ref('branches'), 'fresh', 'main'));
    expect(err).toBeInstanceOf(ForgeRefusal);
    expect((err as ForgeRefusal).status).toBe(409);
    expect(err.message).toMatch(/HTTP 409.*creating branch fresh.*Gitea said: "refused"/);
  });

  test('commitsBetween lists the commits of head not on base, oldest first', async () => {
    const { repo, commit } = await repoWithTask('commits', '2');
    const second = await server.commitFile(
      'acme',
      'commits',
      taskBranch('2'),
      'b.txt',
      'b\n',
      'Add b\n\nbody',
    );
    expect(await forge.commitsBetween(repo, STAGING_BRANCH, taskBranch('2'))).toEqual([
      { sha: commit, subject: 'Update 2.txt' },
      { sha: second, subject: 'Add b' },
    ]);
    expect(await forge.commitsBetween(repo, taskBranch('2'), STAGING_BRANCH)).toEqual([]);
    const err = await failure(forge.commitsBetween(repo, STAGING_BRANCH, 'gone'));
    expect(err.message).toMatch(/branch gone does not exist in acme\/commits/);
  });
});

describe('pull requests', () => {
  test('openPullRequest opens one PR per head and reuses it, updating title and body', async () => {
    const { repo, commit } = await repoWithTask('pulls', '3');
    const pr = { head: taskBranch('3'), base: STAGING_BRANCH, title: 'Task 3', body: 'first' };
    const opened = await forge.openPullRequest(repo, { ...pr, taskId: '3' });
    expect(opened).toMatchObject({
      number: 1,
      url: `${server.url}/acme/pulls/pulls/1`,
      state: 'open',
      head: taskBranch('3'),
      base: STAGING_BRANCH,
      headSha: commit,
      mergeable: true,
      filesChanged: 1,
      additions: 2,
      deletions: 0,
      files: [{ path: '3.txt', additions: 2, deletions: 0 }],
    });

    const again = await forge.openPullRequest(repo, {
      ...pr,
      title: 'Task 3, v2',
      body: 'second',
      taskId: '3',
    });
    expect(again.number).toBe(1);
    const patched = server.requests.filter((r) => r.method === 'PATCH');
    expect(patched.at(-1)?.body).toMatchObject({ title: 'Task 3, v2' });
    expect((patched.at(-1)?.body as { body: string }).body).toMatch(
      /^second\n\n<!-- aiworker-task: 3 -->/,
    );
    expect(
      server.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/pulls')),
    ).toHaveLength(1);

    const rebased = await forge.openPullRequest(repo, { ...pr, base: 'main' });
    expect([rebased.number, rebased.base]).toEqual([1, 'main']);
    const nowhere = await failure(forge.openPullRequest(repo, { ...pr, base: 'gone' }));
    expect(nowhere.message).toBe('branch gone does not exist in acme/pulls');
    await forge.openPullRequest(repo, pr);
  });

  test('getPullRequest reads the diff summary; an unknown PR is refused', async () => {
    const repo = ref('pulls');
    await server.commitFile('acme', 'pulls', taskBranch('3'), 'README.md', '# changed\n');
    const info = await forge.getPullRequest(repo, 1);
    expect(info.filesChanged).toBe(2);
    expect(info.files).toEqual(
      expect.arrayContaining([
        { path: '3.txt', additions: 2, deletions: 0 },
        { path: 'README.md', additions: 1, deletions: 1 },
      ]),
    );
    expect([info.additions, info.deletions]).toEqual([3, 1]);
    const err = await failure(forge.getPullRequest(repo, 99));
    expect(err.message).toBe('pull request #99 not found in acme/pulls');
  });

  test("a head or base that does not exist, or a head equal to base, is refused in Gitea's words", async () => {
    const repo = ref('pulls');
    const missing = await failure(
      forge.openPullRequest(repo, {
        head: 'nothing-here',
        base: STAGING_BRANCH,
        title: 't',
        body: '',
      }),
    );
    expect(missing.message).toMatch(/branch nothing-here does not exist in acme\/pulls: push it/);
    const same = await failure(
      forge.openPullRequest(repo, {
        head: STAGING_BRANCH,
        base: STAGING_BRANCH,
        title: 't',
        body: '',
      }),
    );
    expect(same).toBeInstanceOf(ForgeRefusal);
    expect((same as ForgeRefusal).status).toBe(422);
    expect(same.message).toMatch(/There are no changes between the head and the base/);
  });

  test('mergeable is false on a conflict and null while Gitea is still checking', async () => {
    const { repo } = await repoWithTask('mergeable', '4', 'shared.txt');
    await server.commitFile('acme', 'mergeable', STAGING_BRANCH, 'shared.txt', 'other\n');
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('4'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    expect(pr.mergeable).toBe(false);

    const { repo: calm } = await repoWithTask('checking', '5');
    const open = await forge.openPullRequest(calm, {
      head: taskBranch('5'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    server.setChecking('acme', 'checking', open.number, true);
    expect((await forge.getPullRequest(calm, open.number)).mergeable).toBeNull();
  });
});

describe('merging', () => {
  test('merges exactly the approved commit; running it again reports alreadyMerged', async () => {
    const { repo, commit } = await repoWithTask('merge', '6');
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('6'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    const outcome = await forge.mergePullRequest(repo, {
      number: pr.number,
      commit,
      message: 'Merge task 6\n\nWhy',
    });
    const staging = await forge.branchHead(repo, STAGING_BRANCH);
    expect(outcome).toEqual({ merged: true, mergeSha: staging, alreadyMerged: false });
    const mergeCall = server.requests.find((r) => r.path.endsWith(`/pulls/${pr.number}/merge`));
    expect(mergeCall?.body).toMatchObject({
      Do: 'merge',
      head_commit_id: commit,
      MergeTitleField: 'Merge task 6',
    });

    expect(
      await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'again' }),
    ).toEqual({
      merged: true,
      mergeSha: staging,
      alreadyMerged: true,
    });
    expect((await forge.getPullRequest(repo, pr.number)).state).toBe('merged');
  });

  test('a conflict names the files and leaves base exactly as it was', async () => {
    const { repo, commit } = await repoWithTask('conflict', '7', 'shared.txt');
    await server.commitFile('acme', 'conflict', STAGING_BRANCH, 'shared.txt', 'theirs\n');
    const base = await forge.branchHead(repo, STAGING_BRANCH);
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('7'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    expect(await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'm' })).toEqual(
      {
        merged: false,
        conflicts: ['shared.txt'],
      },
    );
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(base);
  });

  test('a head that moved after approval is refused and nothing is merged', async () => {
    const { repo, commit } = await repoWithTask('moved', '8');
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('8'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    const later = await server.commitFile('acme', 'moved', taskBranch('8'), 'late.txt', 'late\n');
    const base = await forge.branchHead(repo, STAGING_BRANCH);
    const err = await failure(
      forge.mergePullRequest(repo, { number: pr.number, commit, message: 'm' }),
    );
    expect(err).toBeInstanceOf(ForgeRefusal);
    expect(err.message).toContain(`moved to ${later} after ${commit} was approved`);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(base);
  });

  test('while Gitea is still checking, merging is worth retrying and changes nothing', async () => {
    const { repo, commit } = await repoWithTask('later', '9');
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('9'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    server.setChecking('acme', 'later', pr.number, true);
    const base = await forge.branchHead(repo, STAGING_BRANCH);
    const err = await failure(
      forge.mergePullRequest(repo, { number: pr.number, commit, message: 'm' }),
    );
    expect(err).toBeInstanceOf(ForgeUnavailable);
    expect(err.message).toMatch(/has not finished checking/);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(base);
    server.setChecking('acme', 'later', pr.number, false);
    expect(
      await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'm' }),
    ).toMatchObject({
      merged: true,
      alreadyMerged: false,
    });
  });
});

describe('resetBranch', () => {
  test('moves a branch back only from the expected commit, and is idempotent', async () => {
    const { repo, commit } = await repoWithTask('reset', '10');
    const before = (await forge.branchHead(repo, STAGING_BRANCH)) as string;
    const pr = await forge.openPullRequest(repo, {
      head: taskBranch('10'),
      base: STAGING_BRANCH,
      title: 't',
      body: '',
    });
    const merged = await forge.mergePullRequest(repo, { number: pr.number, commit, message: 'm' });
    if (!merged.merged) throw new Error('merge failed');

    const wrong = await failure(
      forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: commit }),
    );
    expect(wrong).toBeInstanceOf(ForgeRefusal);
    expect(wrong.message).toMatch(/changed since, so it was not moved back/);
    expect(await forge.branchHead(repo, STAGING_BRANCH)).toBe(merged.mergeSha);

    await forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: merged.mergeSha });
    expect(await server.branchHead('acme', 'reset', STAGING_BRANCH)).toBe(before);
    await forge.resetBranch(repo, STAGING_BRANCH, { to: before, expected: merged.mergeSha });
    expect(await server.branchHead('acme', 'reset', STAGING_BRANCH)).toBe(before);
  });

  test('a token that may not push is refused over git, without the token in the message', async () => {
    const { repo, commit } = await repoWithTask('push-denied', '11');
    const reader = createGiteaForge({
      baseUrl: server.url,
      token: server.readOnlyToken,
      username: server.username,
    });
    const base = (await forge.branchHead(repo, STAGING_BRANCH)) as string;
    const err = await failure(
      reader.resetBranch(repo, taskBranch('11'), { to: base, expected: commit }),
    );
    expect(err).toBeInstanceOf(ForgeRefusal);
    expect(err.message).toMatch(/denied "aiworker-bot" write access over git/);
    expect(await forge.branchHead(repo, taskBranch('11'))).toBe(commit);
  });
});

describe('failures', () => {
  test('5xx answers are worth retrying', async () => {
    server.failNext({ method: 'GET', path: /^\/api\/v1\/repos\/acme\/shop$/ }, { status: 503 });
    const err = await failure(forge.cloneUrl(ref('shop')));
    expect(err).toBeInstanceOf(ForgeUnavailable);
    expect(err.message).toMatch(/Gitea failed \(HTTP 503\) while reading repository acme\/shop/);
    expect(await forge.cloneUrl(ref('shop'))).toContain('/acme/shop.git');
  });

  test('a slow answer times out as unavailable', async () => {
    const impatient = createGiteaForge({
      baseUrl: server.url,
      token: server.token,
      username: server.username,
      timeoutMs: 200,
    });
    server.delayNext({ path: /^\/api\/v1\/repos\/acme\/shop$/ }, 5_000);
    const started = Date.now();
    const err = await failure(impatient.cloneUrl(ref('shop')));
    expect(err).toBeInstanceOf(ForgeUnavailable);
    expect(err.message).toMatch(/did not answer within 200 ms while reading repository acme\/shop/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  test('a server that is not there is unavailable', async () => {
    const nowhere = createGiteaForge({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      token: server.token,
      username: server.username,
    });
    const err = await failure(nowhere.branchHead(ref('shop'), 'main'));
    expect(err).toBeInstanceOf(ForgeUnavailable);
    expect(err.message).toMatch(
      /could not reach Gitea at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/,
    );
  });

  test('a bad token is refused as a credentials problem; a read-only one as a permission problem', async () => {
    const wrong = createGiteaForge({
      baseUrl: server.url,
      token: 'not-the-token',
      username: server.username,
    });
    const unauthorised = await failure(wrong.cloneUrl(ref('shop')));
    expect(unauthorised).toBeInstanceOf(ForgeRefusal);
    expect((unauthorised as ForgeRefusal).status).toBe(401);
    expect(unauthorised.message).toMatch(/rejected the API token of "aiworker-bot" \(HTTP 401\)/);

    const reader = createGiteaForge({
      baseUrl: server.url,
      token: server.readOnlyToken,
      username: server.username,
    });
    const forbidden = await failure(reader.createBranch(ref('shop'), 'new-one', 'main'));
    expect((forbidden as ForgeRefusal).status).toBe(403);
    expect(forbidden.message).toMatch(/denied "aiworker-bot" \(HTTP 403\).*write:repository/);
  });

  test('no thrown message carries a token', () => {
    expect(thrown.length).toBeGreaterThan(10);
    for (const err of thrown) {
      for (const secret of [server.token, server.readOnlyToken, 'not-the-token']) {
        expect(`${err.message}\n${err.stack}`).not.toContain(secret);
      }
    }
  });
});
