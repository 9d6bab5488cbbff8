// The git gateway with a real git client against a real API, worker, Temporal and MariaDB: for a
// local project (git http-backend over the bare repository) and a Gitea project (relayed to the
// Gitea test server, whose repositories are real bare repositories served by git too).
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { GiteaTestServer } from '../../test/servers/gitea-server';
import { startGiteaTestServer } from '../../test/servers/gitea-server';
import { startTestApi } from '../../test/support/api';
import type { TestApi } from '../../test/support/api';
import { localRepositoryPath, localRepositoryUrl } from '../../test/support/git';
import { apiClient } from '../../test/support/http';
import { callTool, connectAgent } from '../../test/support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/worker';
import { FLUSH, pktLine } from './pkt-line';
import { judgePush } from './push-policy';
import type { AskWorkflow } from './push-policy';

interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

const IDENTITY = {
  GIT_AUTHOR_NAME: 'agent',
  GIT_AUTHOR_EMAIL: 'agent@example.com',
  GIT_COMMITTER_NAME: 'agent',
  GIT_COMMITTER_EMAIL: 'agent@example.com',
};

/** Runs real git with no machine configuration and no prompts; never rejects. */
function git(cwd: string, ...args: string[]): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      {
        cwd,
        env: {
          ...process.env,
          ...IDENTITY,
          GIT_TERMINAL_PROMPT: '0',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
        },
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout: stdout.trim(), stderr });
      },
    );
  });
}

/** git, that must succeed; answers its output. */
async function ok(cwd: string, ...args: string[]): Promise<string> {
  const run = await git(cwd, ...args);
  if (run.code !== 0) throw new Error(`git ${args.join(' ')} failed:\n${run.stderr}`);
  return run.stdout;
}

/** `git -c http.extraHeader=...`: how an agent sends its token as a bearer header. */
const bearer = (token: string) => ['-c', `http.extraHeader=Authorization: Bearer ${token}`];

let gitea: GiteaTestServer;
let api: TestApi;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let http: ReturnType<typeof apiClient>;
let scratch: string;
const taskQueue = uniqueTaskQueue('gateway');

beforeAll(async () => {
  gitea = await startGiteaTestServer();
  gitea.addOrganization('acme');
  const account = { url: gitea.url, token: gitea.token, username: gitea.username };
  worker = await startTestWorker({ taskQueue, gitea: account });
  api = await startTestApi({ taskQueue, gitea: account });
  http = apiClient(api.url, api.adminToken);
  scratch = await mkdtemp(path.join(tmpdir(), 'gateway-test-'));
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await gitea?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A fresh folder under the test's scratch folder. */
async function folder(): Promise<string> {
  return await mkdtemp(path.join(scratch, 'w-'));
}

/** Registers an agent of `projectIds`; answers its id, token and MCP client. */
async function agent(projectIds: string[]) {
  const { body } = await http.post('/api/agents', { name: `agent-${randomUUID()}`, projectIds });
  return {
    id: body.agentId as string,
    token: body.token as string,
    mcp: await connectAgent(api.url, body.token),
  };
}

type Agent = Awaited<ReturnType<typeof agent>>;

/** A task of the project taken by `who` through MCP, with its branch created. */
async function claimedTask(projectId: string, who: Agent): Promise<string> {
  const created = await http.post('/api/tasks', {
    projectId,
    title: `task ${randomBytes(3).toString('hex')}`,
    description: 'work',
  });
  expect(created.status).toBe(201);
  const taskId = created.body.taskId as string;
  const next = await callTool(who.mcp, 'get_next_task', { projectId });
  expect(next.data.task.id).toBe(taskId);
  const branch = await callTool(who.mcp, 'create_branch', { taskId });
  expect(branch.isError).toBe(false);
  return taskId;
}

/** What each provider's test needs to read its repository behind the gateway. */
interface Provider {
  name: 'local' | 'gitea';
  create(): Promise<{ id: string; cloneUrl: string }>;
  /** The commit a branch points at on the forge itself, or null. */
  head(projectId: string, branch: string): Promise<string | null>;
}

const giteaNames = new Map<string, string>();

const PROVIDERS: Provider[] = [
  {
    name: 'local',
    async create() {
      const res = await http.post('/api/projects', { name: `gateway-${randomUUID()}` });
      expect(res.status).toBe(201);
      return res.body;
    },
    async head(projectId, branch) {
      const run = await git(
        localRepositoryPath(projectId),
        'rev-parse',
        '--verify',
        '--quiet',
        `refs/heads/${branch}`,
      );
      return run.code === 0 ? run.stdout : null;
    },
  },
  {
    name: 'gitea',
    async create() {
      const name = `gw-${randomBytes(4).toString('hex')}`;
      const res = await http.post('/api/projects', {
        name: `gateway-${name}`,
        repository: { provider: 'gitea', owner: 'acme', name },
      });
      expect(res.status).toBe(201);
      giteaNames.set(res.body.id, name);
      return res.body;
    },
    async head(projectId, branch) {
      return await gitea.branchHead('acme', giteaNames.get(projectId)!, branch);
    },
  },
];

describe.each(PROVIDERS)('a $name project through the gateway', (provider) => {
  let project: { id: string; cloneUrl: string };
  let other: { id: string; cloneUrl: string };
  let alice: Agent;
  let bob: Agent;
  let outsider: Agent;
  let aliceTask: string;
  let bobTask: string;
  /** Alice's clone, through the gateway. */
  let work: string;

  beforeAll(async () => {
    project = await provider.create();
    other = await provider.create();
    alice = await agent([project.id]);
    bob = await agent([project.id]);
    outsider = await agent([other.id]);
    aliceTask = await claimedTask(project.id, alice);
    bobTask = await claimedTask(project.id, bob);
    work = await folder();
  });
  afterAll(async () => {
    await Promise.all([alice?.mcp.close(), bob?.mcp.close(), outsider?.mcp.close()]);
  });

  const aliceBranch = () => `task-${aliceTask}-feature`;
  const bobBranch = () => `task-${bobTask}-feature`;

  /** A new commit on top of HEAD in Alice's clone. */
  async function commit(file: string, content: string): Promise<string> {
    await writeFile(path.join(work, file), content);
    await ok(work, 'add', file);
    await ok(work, 'commit', '--quiet', '-m', `change ${file}`);
    return await ok(work, 'rev-parse', 'HEAD');
  }

  it('answers the gateway URL as the clone URL, to people and to agents', async () => {
    expect(project.cloneUrl).toBe(`${api.url}/git/${project.id}.git`);
    expect((await http.get(`/api/projects/${project.id}`)).body.cloneUrl).toBe(project.cloneUrl);
    const branch = await callTool(alice.mcp, 'create_branch', { taskId: aliceTask });
    expect(branch.data).toEqual({ branch: aliceBranch(), cloneUrl: project.cloneUrl });
  });

  it('lets the agent clone with its token as the basic-auth password, and fetch with it as a bearer header', async () => {
    const url = new URL(project.cloneUrl);
    url.username = 'alice';
    url.password = alice.token;
    await ok(scratch, 'clone', '--quiet', url.toString(), work);
    // From here on the token travels as a header, not in the clone's configuration.
    await ok(work, 'remote', 'set-url', 'origin', project.cloneUrl);
    await ok(work, ...bearer(alice.token), 'fetch', '--quiet', 'origin');
    await ok(work, 'checkout', '--quiet', '-B', aliceBranch(), `origin/${aliceBranch()}`);
    expect(await ok(work, 'rev-parse', 'HEAD')).toBe(await provider.head(project.id, 'staging'));
    // Protocol v2 (git's default) and v0 both work.
    const v0 = await ok(
      work,
      '-c',
      'protocol.version=0',
      ...bearer(alice.token),
      'ls-remote',
      'origin',
    );
    const v2 = await ok(
      work,
      '-c',
      'protocol.version=2',
      ...bearer(alice.token),
      'ls-remote',
      'origin',
    );
    expect(v0).toContain('refs/heads/staging');
    expect(v2).toContain('refs/heads/staging');
  });

  it("accepts the agent's pushes to its own task branch, force pushes included", async () => {
    const first = await commit('a.txt', 'one\n');
    await ok(
      work,
      ...bearer(alice.token),
      'push',
      '--quiet',
      'origin',
      `HEAD:refs/heads/${aliceBranch()}`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(first);

    await ok(work, 'commit', '--quiet', '--amend', '-m', 'rewritten');
    const rewritten = await ok(work, 'rev-parse', 'HEAD');
    await ok(
      work,
      ...bearer(alice.token),
      'push',
      '--quiet',
      '--force',
      'origin',
      `HEAD:refs/heads/${aliceBranch()}`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(rewritten);
  });

  it('sends a large push in chunks, and it arrives whole', async () => {
    await writeFile(path.join(work, 'noise.bin'), randomBytes(400_000));
    await ok(work, 'add', 'noise.bin');
    await ok(work, 'commit', '--quiet', '-m', 'noise');
    const head = await ok(work, 'rev-parse', 'HEAD');
    // A post buffer smaller than the pack makes git stream it with chunked transfer encoding.
    await ok(
      work,
      '-c',
      'http.postBuffer=65536',
      ...bearer(alice.token),
      'push',
      '--quiet',
      'origin',
      `HEAD:refs/heads/${aliceBranch()}`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(head);
  });

  it('refuses a push to staging, and git shows why', async () => {
    const staging = await provider.head(project.id, 'staging');
    await commit('b.txt', 'two\n');
    const run = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      'HEAD:refs/heads/staging',
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /! \[remote rejected\] HEAD -> staging \(staging changes only through merges people approve in aiworker\)/,
    );
    expect(run.stderr).toContain('remote: aiworker refused this push; nothing of it was applied.');
    expect(await provider.head(project.id, 'staging')).toBe(staging);
  });

  it("refuses a push to another agent's task branch", async () => {
    const bobs = await provider.head(project.id, bobBranch());
    const run = await git(
      work,
      ...bearer(alice.token),
      'push',
      '--force',
      'origin',
      `HEAD:refs/heads/${bobBranch()}`,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`(task ${bobTask} is not assigned to you)`);
    expect(await provider.head(project.id, bobBranch())).toBe(bobs);
  });

  it('asks the task workflow when the read model trails it: a task just given back takes no push', async () => {
    const given = await claimedTask(project.id, alice);
    const branch = `task-${given}-feature`;
    const head = await provider.head(project.id, branch);
    const released = await callTool(alice.mcp, 'release_task', { taskId: given });
    expect(released.isError).toBe(false);
    // The row as it is while a projection trails its workflow's change: still Alice's.
    await api.deps.db.task.update({
      where: { id: given },
      data: { state: 'in_progress', assignedAgentId: alice.id },
    });
    await commit('late.txt', 'after the release\n');
    const run = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      `HEAD:refs/heads/${branch}`,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`(task ${given} is no longer assigned to you)`);
    expect(await provider.head(project.id, branch)).toBe(head);
    // The row as the projection left it, and the task out of the way of the tests after this one.
    await api.deps.db.task.update({
      where: { id: given },
      data: { state: 'backlog', assignedAgentId: null },
    });
    expect((await http.post(`/api/tasks/${given}/cancel`, { reason: 'done with' })).status).toBe(
      200,
    );
  });

  it("lets the workflow's word decide a push the read model allows, and refuses one it cannot confirm", async () => {
    const update = (taskId: string) => ({
      oldId: '0'.repeat(40),
      newId: '1'.repeat(40),
      ref: `refs/heads/task-${taskId}-feature`,
    });
    const push = { projectId: project.id, agentId: alice.id, updates: [update(aliceTask)] };
    const view = (await http.get(`/api/tasks/${aliceTask}`)).body;
    expect({ state: view.state, agent: view.assignedAgentId }).toEqual({
      state: 'in_progress',
      agent: alice.id,
    });
    const refusals = async (askWorkflow: AskWorkflow, of = push) =>
      (await judgePush(api.deps.db, askWorkflow, of)).map((v) => v.refusal);

    expect(await refusals(() => Promise.resolve(view))).toEqual([null]);
    expect(await refusals(() => Promise.resolve({ ...view, state: 'ready_to_test' }))).toEqual([
      `task ${aliceTask} is ready_to_test; push while you work on it (in_progress)`,
    ]);
    // No answer in time, or a failed question: not confirmed, so not applied.
    const unconfirmed = `aiworker could not confirm that task ${aliceTask} is still yours (Temporal or its workers are slow or away); push again shortly`;
    expect(await refusals(() => Promise.resolve(null))).toEqual([unconfirmed]);
    expect(await refusals(() => Promise.reject(new Error('Temporal away')))).toEqual([unconfirmed]);
    // The workflow refusing one task of a push refuses all of it.
    const second = await claimedTask(project.id, alice);
    const both = { ...push, updates: [update(aliceTask), update(second)] };
    const asked: string[] = [];
    const onlyFirst: AskWorkflow = (taskId) => {
      asked.push(taskId);
      return Promise.resolve(
        taskId === aliceTask ? view : { ...view, id: second, assignedAgentId: bob.id },
      );
    };
    expect(await refusals(onlyFirst, both)).toEqual([
      'not applied: another update of this push was refused',
      `task ${second} is no longer assigned to you`,
    ]);
    expect(asked.sort()).toEqual([aliceTask, second].sort());
    // A push the read model refuses is not asked of the workflow at all.
    asked.length = 0;
    await refusals(onlyFirst, { ...push, updates: [update(bobTask)] });
    expect(asked).toEqual([]);
  });

  it('refuses deleting its own branch, tags, other branches and tasks of other projects', async () => {
    const mine = await provider.head(project.id, aliceBranch());
    const deleted = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      `:refs/heads/${aliceBranch()}`,
    );
    expect(deleted.code).not.toBe(0);
    expect(deleted.stderr).toContain('(deleting branches is not allowed)');
    expect(await provider.head(project.id, aliceBranch())).toBe(mine);

    await ok(work, 'tag', 'v1');
    const tagged = await git(work, ...bearer(alice.token), 'push', 'origin', 'refs/tags/v1');
    expect(tagged.code).not.toBe(0);
    expect(tagged.stderr).toContain('(tags are not accepted; push your task branch)');

    const elsewhere = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      'HEAD:refs/heads/main',
    );
    expect(elsewhere.stderr).toContain(
      '(push only to task-<id>-feature of a task assigned to you)',
    );

    const foreign = `task-${randomUUID()}-feature`;
    const unknown = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      `HEAD:refs/heads/${foreign}`,
    );
    expect(unknown.stderr).toMatch(/\(task [0-9a-f-]+ is not a task of this project\)/);
    expect(await provider.head(project.id, foreign)).toBeNull();
  });

  it('applies nothing of a push when one of its updates is refused', async () => {
    const before = await provider.head(project.id, aliceBranch());
    const head = await commit('c.txt', 'three\n');
    expect(head).not.toBe(before);
    const run = await git(
      work,
      ...bearer(alice.token),
      'push',
      'origin',
      `HEAD:refs/heads/${aliceBranch()}`,
      'HEAD:refs/heads/staging',
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `! [remote rejected] HEAD -> ${aliceBranch()} (not applied: another update of this push was refused)`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(before);
  });

  it("hides projects outside the agent's scope: no fetch, no push", async () => {
    const dir = await folder();
    const cloned = await git(dir, ...bearer(outsider.token), 'clone', project.cloneUrl, 'x');
    expect(cloned.code).not.toBe(0);
    expect(cloned.stderr).toMatch(/repository not found/i);
    // Alice, whose scope is the first project only, cannot reach the other one either.
    const pushed = await git(
      work,
      ...bearer(alice.token),
      'push',
      other.cloneUrl,
      `HEAD:refs/heads/${aliceBranch()}`,
    );
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/repository not found/i);
    // The answer is the same as for a project that does not exist.
    const missing = await fetch(
      `${api.url}/git/${randomUUID()}.git/info/refs?service=git-upload-pack`,
      {
        headers: { authorization: `Bearer ${alice.token}` },
      },
    );
    const hidden = await fetch(`${other.cloneUrl}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect([missing.status, await missing.text()]).toEqual([hidden.status, await hidden.text()]);
    expect(hidden.status).toBe(404);
  });

  it('asks for credentials without them, and refuses a wrong token', async () => {
    const refs = `${project.cloneUrl}/info/refs?service=git-upload-pack`;
    const anonymous = await fetch(refs);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="aiworker"');
    const wrong = await fetch(refs, { headers: { authorization: 'Bearer aw_not-a-token' } });
    expect(wrong.status).toBe(401);
    const basicWrong = await fetch(refs, {
      headers: { authorization: `Basic ${Buffer.from('x:nope').toString('base64')}` },
    });
    expect(basicWrong.status).toBe(401);

    const dir = await folder();
    const noCredentials = await git(dir, 'clone', project.cloneUrl, 'x');
    expect(noCredentials.code).not.toBe(0);
    expect(noCredentials.stderr).toMatch(/Authentication failed|could not read Username/);
    const wrongToken = await git(dir, ...bearer('aw_wrong'), 'clone', project.cloneUrl, 'y');
    expect(wrongToken.code).not.toBe(0);
  });

  it('lets the admin fetch any project but not push', async () => {
    const dir = await folder();
    await ok(dir, ...bearer(api.adminToken), 'clone', '--quiet', project.cloneUrl, 'admin');
    const clone = path.join(dir, 'admin');
    await ok(clone, 'checkout', '--quiet', '-b', 'person');
    await writeFile(path.join(clone, 'd.txt'), 'four\n');
    await ok(clone, 'add', 'd.txt');
    await ok(clone, 'commit', '--quiet', '-m', 'by a person');
    const staging = await provider.head(project.id, 'staging');
    const pushed = await git(
      clone,
      ...bearer(api.adminToken),
      'push',
      'origin',
      'HEAD:refs/heads/staging',
    );
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toContain('people may fetch but not push');
    expect(await provider.head(project.id, 'staging')).toBe(staging);
  });

  it('reads gzip-compressed requests and refuses bodies over the limit', async () => {
    const request = Buffer.concat([
      pktLine('command=ls-refs\n'),
      pktLine('agent=git/2.39.5\n'),
      Buffer.from('0001'),
      pktLine('ref-prefix refs/heads/\n'),
      FLUSH,
    ]);
    const headers = {
      authorization: `Bearer ${alice.token}`,
      'content-type': 'application/x-git-upload-pack-request',
      'git-protocol': 'version=2',
    };
    const res = await fetch(`${project.cloneUrl}/git-upload-pack`, {
      method: 'POST',
      headers: { ...headers, 'content-encoding': 'gzip' },
      body: gzipSync(request),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('refs/heads/staging');

    const limit = api.deps.git.bodyLimitBytes;
    api.deps.git.bodyLimitBytes = 1000; // read per request; restored below
    try {
      const big = await fetch(`${project.cloneUrl}/git-upload-pack`, {
        method: 'POST',
        headers: { ...headers, 'content-encoding': 'gzip' },
        body: gzipSync(Buffer.concat([request, Buffer.alloc(5000, 0x30)])),
      });
      expect(big.status).toBe(413);
      expect(await big.text()).toMatch(
        /larger than the git gateway accepts .*AIWORKER_GIT_BODY_LIMIT_MB/,
      );
    } finally {
      api.deps.git.bodyLimitBytes = limit;
    }
  });

  it('answers a refusal without report-status as an HTTP error, and garbage as a bad request', async () => {
    const zeros = '0'.repeat(40);
    const staging = (await provider.head(project.id, 'staging'))!;
    const headers = {
      authorization: `Bearer ${alice.token}`,
      'content-type': 'application/x-git-receive-pack-request',
    };
    const bare = await fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers,
      body: Buffer.concat([pktLine(`${staging} ${zeros} refs/heads/staging\0agent=x\n`), FLUSH]),
    });
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain('refs/heads/staging: staging changes only through merges');

    const plain = await fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers,
      body: Buffer.concat([pktLine(`${zeros} ${staging} refs/tags/x\0report-status\n`), FLUSH]),
    });
    expect(plain.status).toBe(200);
    const report = Buffer.concat([
      pktLine('unpack ok\n'),
      pktLine('ng refs/tags/x tags are not accepted; push your task branch\n'),
      FLUSH,
    ]);
    expect(await plain.text()).toBe(report.toString());

    const garbage = await fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers,
      body: 'hello',
    });
    expect(garbage.status).toBe(400);
    expect(await provider.head(project.id, 'staging')).toBe(staging);
  });

  it('refuses push options and overlong command lists, applying nothing', async () => {
    const headers = {
      authorization: `Bearer ${alice.token}`,
      'content-type': 'application/x-git-receive-pack-request',
    };
    const branch = `refs/heads/${aliceBranch()}`;
    const before = (await provider.head(project.id, aliceBranch()))!;
    const staging = (await provider.head(project.id, 'staging'))!;
    // Options a forge would act on as the service account (Gitea: repo.private=false).
    const withOptions = await fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers,
      body: Buffer.concat([
        pktLine(`${before} ${staging} ${branch}\0report-status push-options\n`),
        FLUSH,
        pktLine('repo.private=false\n'),
        FLUSH,
      ]),
    });
    expect(withOptions.status).toBe(200);
    expect(await withOptions.text()).toContain(
      `ng ${branch} push options (git push -o) are not accepted`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(before);

    const zeros = '0'.repeat(40);
    const many = Array.from({ length: 101 }, (_, i) =>
      pktLine(`${zeros} ${staging} ${branch}-${i}${i === 0 ? '\0report-status' : ''}\n`),
    );
    const overlong = await fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers,
      body: Buffer.concat([...many, FLUSH]),
    });
    expect(overlong.status).toBe(400);
    expect(await overlong.text()).toContain('more than 100 ref updates in one push');
    expect(await provider.head(project.id, aliceBranch())).toBe(before);
  });

  it('refuses push options however the capability list spells them, passing none of it on', async () => {
    const headers = {
      authorization: `Bearer ${alice.token}`,
      'content-type': 'application/x-git-receive-pack-request',
    };
    const branch = `refs/heads/${aliceBranch()}`;
    const before = (await provider.head(project.id, aliceBranch()))!;
    const staging = (await provider.head(project.id, 'staging'))!;
    expect(staging).not.toBe(before);
    // Moving the branch to staging needs no objects: with this empty pack, a push the gateway
    // passed on would be applied (the last request below shows it).
    const header = Buffer.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 0]);
    const emptyPack = Buffer.concat([header, createHash('sha1').update(header).digest()]);
    // Options a forge would act on as the service account (Gitea: repo.private=false).
    const options = Buffer.concat([pktLine('repo.private=false\n'), FLUSH]);
    const push = (capabilities: string, withOptions = true) =>
      fetch(`${project.cloneUrl}/git-receive-pack`, {
        method: 'POST',
        headers,
        body: Buffer.concat([
          pktLine(`${before} ${staging} ${branch}\0${capabilities}\n`),
          FLUSH,
          withOptions ? options : Buffer.alloc(0),
          emptyPack,
        ]),
      });
    // What reached Gitea's receive-pack (for a local project, Gitea hears nothing at all).
    const relayed = () =>
      gitea.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack'))
        .length;
    const relayedBefore = relayed();
    const refused = `ng ${branch} push options (git push -o) are not accepted`;
    for (const capabilities of [
      'report-status side-band-64k push-options agent=git/2.39.5',
      'report-status\tpush-options',
      'report-status push-options=1',
      'report-status\rpush-options',
      'report-status\npush-options',
      'report-status\r\npush-options',
      'report-status\t\r\n push-options=yes',
    ]) {
      const res = await push(capabilities);
      expect([capabilities, res.status, await res.text()]).toEqual([
        capabilities,
        200,
        expect.stringContaining(refused),
      ]);
    }
    // Without report-status, git hears the refusal as an HTTP error.
    const bare = await push('push-options=1');
    expect([bare.status, await bare.text()]).toEqual([
      403,
      expect.stringContaining(`${branch}: push options (git push -o) are not accepted`),
    ]);
    // A capability the gateway does not know is not passed on either.
    const unknown = await push('report-status no-such-capability');
    expect(await unknown.text()).toContain(
      `ng ${branch} the capability "no-such-capability" is not accepted`,
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(before);
    expect(relayed()).toBe(relayedBefore);

    // The same push without options is applied: the refusals above were what kept it out.
    const plain = await push('report-status agent=git/2.39.5', false);
    expect(await plain.text()).toBe(
      Buffer.concat([pktLine('unpack ok\n'), pktLine(`ok ${branch}\n`), FLUSH]).toString(),
    );
    expect(await provider.head(project.id, aliceBranch())).toBe(staging);
    expect(relayed()).toBe(relayedBefore + (provider.name === 'gitea' ? 1 : 0));
  });

  it('cuts off a push under way when its token is revoked, and applies nothing of it', async () => {
    const carol = await agent([project.id]);
    const carolTask = await claimedTask(project.id, carol);
    const branch = `refs/heads/task-${carolTask}-feature`;
    const before = (await provider.head(project.id, `task-${carolTask}-feature`))!;
    const staging = (await provider.head(project.id, 'staging'))!;
    // The command list arrives; the pack never does (a slow client).
    let stall: (() => void) | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(
          Buffer.concat([pktLine(`${before} ${staging} ${branch}\0report-status\n`), FLUSH]),
        );
        stall = () => controller.close();
      },
    });
    const push = fetch(`${project.cloneUrl}/git-receive-pack`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${carol.token}`,
        'content-type': 'application/x-git-receive-pack-request',
      },
      body,
      duplex: 'half',
    }).then(
      async (res) => ({ status: res.status, text: await res.text().catch(() => 'cut') }),
      () => ({ status: 0, text: 'cut' }),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect((await http.del(`/api/agents/${carol.id}`)).status).toBe(200);
    const ended = await Promise.race([
      push,
      new Promise((r) => setTimeout(() => r('still open'), 10_000)),
    ]);
    stall?.();
    expect(ended).not.toBe('still open');
    expect(await provider.head(project.id, `task-${carolTask}-feature`)).toBe(before);
    await carol.mcp.close().catch(() => undefined);
  });

  it('serves nothing but the smart protocol', async () => {
    const auth = { authorization: `Bearer ${alice.token}` };
    for (const suffix of ['/HEAD', '/objects/info/packs', '/info/refs']) {
      const res = await fetch(`${project.cloneUrl}${suffix}`, { headers: auth });
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
    const dumb = await fetch(`${project.cloneUrl}/info/refs`, { headers: auth });
    expect(await dumb.text()).toMatch(/dumb HTTP is not served/);
    const wrongMethod = await fetch(`${project.cloneUrl}/git-upload-pack`, { headers: auth });
    expect(wrongMethod.status).toBe(405);
  });
});

describe('a Gitea project set up by aiworker', () => {
  it('has staging protected: only the service account pushes, as Gitea enforces on its own', async () => {
    const name = `protected-${randomBytes(4).toString('hex')}`;
    const created = await http.post('/api/projects', {
      name,
      repository: { provider: 'gitea', owner: 'acme', name },
    });
    expect(created.status).toBe(201);
    const rule = await fetch(`${gitea.url}/api/v1/repos/acme/${name}/branch_protections/staging`, {
      headers: { authorization: `token ${gitea.token}` },
    });
    expect(rule.status).toBe(200);
    expect(await rule.json()).toMatchObject({
      rule_name: 'staging',
      enable_push: true,
      enable_push_whitelist: true,
      push_whitelist_usernames: [gitea.username],
      force_push_allowlist_usernames: [gitea.username],
    });
    const branch = await fetch(`${gitea.url}/api/v1/repos/acme/${name}/branches/staging`, {
      headers: { authorization: `token ${gitea.token}` },
    });
    expect(((await branch.json()) as { protected: boolean }).protected).toBe(true);

    // Someone else with write access to the repository on Gitea cannot push to staging there.
    const someone = gitea.addUser('someone');
    const dir = await folder();
    const direct = new URL(`${gitea.url}/acme/${name}.git`);
    direct.username = 'someone';
    direct.password = someone;
    await ok(dir, 'clone', '--quiet', direct.toString(), 'c');
    const clone = path.join(dir, 'c');
    await ok(clone, 'checkout', '--quiet', '-B', 'staging', 'origin/staging');
    await ok(clone, 'commit', '--quiet', '--allow-empty', '-m', 'sneaked in');
    const run = await git(clone, 'push', 'origin', 'HEAD:refs/heads/staging');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Not allowed to push to protected branch staging');
    // Other branches stay open to them.
    await ok(clone, 'push', '--quiet', 'origin', 'HEAD:refs/heads/elsewhere');
  });

  it('keeps a protection that already exists (setting up again is idempotent)', async () => {
    const name = `again-${randomBytes(4).toString('hex')}`;
    const body = { name, repository: { provider: 'gitea', owner: 'acme', name } };
    expect((await http.post('/api/projects', body)).status).toBe(201);
    // A second project on the same repository sets it up again.
    const again = await http.post('/api/projects', { ...body, name: `${name}-2` });
    expect(again.status).toBe(201);
    const creations = gitea.requests.filter(
      (r) => r.method === 'POST' && r.path === `/api/v1/repos/acme/${name}/branch_protections`,
    );
    expect(creations).toHaveLength(1);
  });
});

describe('a Gitea server that does not answer', () => {
  it('is reported to git in plain words, and logged once with the request id and the cause', async () => {
    const project = await PROVIDERS[1]!.create();
    const who = await agent([project.id]);
    const repository = `/acme/${giteaNames.get(project.id)}.git/`;
    // A port that was free a moment ago: nothing answers there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    // The gateway's requests to this one repository go to that port (this process is the API).
    const realFetch = globalThis.fetch;
    const away = jest.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!url.pathname.startsWith(repository)) return realFetch(input, init);
      url.host = `127.0.0.1:${port}`;
      return realFetch(url, init);
    });
    try {
      const res = await fetch(`${project.cloneUrl}/info/refs?service=git-upload-pack`, {
        headers: { authorization: `Bearer ${who.token}` },
      });
      expect(res.status).toBe(502);
      expect(await res.text()).toBe(
        "the repository's Gitea server did not answer; try again shortly\n",
      );
      const logged = api
        .logs()
        .split('\n')
        .filter((line) => line.includes(project.id) && line.includes('ECONNREFUSED'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged).toEqual([
        expect.objectContaining({
          requestId: res.headers.get('x-request-id'),
          status: 502,
          cause: expect.stringMatching(
            /caused by TypeError: fetch failed; caused by .*ECONNREFUSED/,
          ),
        }),
      ]);
    } finally {
      away.mockRestore();
      await who.mcp.close();
    }
  });
});

describe('local repositories', () => {
  it('are reached only through the gateway: the clone URL holds no path on disk', async () => {
    const res = await http.post('/api/projects', { name: `paths-${randomUUID()}` });
    expect(res.body.cloneUrl).not.toContain('file:');
    expect(res.body.cloneUrl).not.toContain(localRepositoryPath(res.body.id));
    // The repository is where the worker keeps it, for the operator.
    expect(await ok(scratch, 'ls-remote', localRepositoryUrl(res.body.id))).toContain(
      'refs/heads/staging',
    );
  });
});
