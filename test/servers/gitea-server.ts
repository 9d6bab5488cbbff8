/**
 * A stand-in for Gitea, for tests of the Gitea forge: the REST endpoints the provider uses, with
 * the request and response shapes of Gitea's OpenAPI document and its errors (`{message, url}`),
 * plus git's smart HTTP protocol for its repositories. The repositories are real bare
 * repositories and the only state besides pull requests: branches, commits, diffs and merges are
 * real git, so what a test pushes is what the API reports.
 *
 *   GET  /api/v1/user                          GET  /api/v1/orgs/{org}
 *   POST /api/v1/user/repos                    POST /api/v1/orgs/{org}/repos
 *   GET|PATCH /api/v1/repos/{owner}/{repo}     GET  .../compare/{base}...{head}
 *   GET  .../branches/{branch}                 POST .../branches
 *   GET  .../pulls   POST .../pulls            GET|PATCH .../pulls/{index}
 *   GET  .../pulls/{index}/files               POST .../pulls/{index}/merge
 *   GET|POST .../branch_protections            GET|DELETE .../branch_protections/{name}
 *   GET|POST /{owner}/{repo}.git/...           (git clone, fetch and push; basic auth)
 *
 * The API's tokens belong to one user; orgs are added by tests, and so are other users, whose
 * tokens git accepts over HTTP (to push as someone else, e.g. against a branch protection). Auth
 * as Gitea takes it: `Authorization: token X`, `Bearer X`, or basic auth with the token as
 * password.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RepoState } from './gitea-server-git';
import {
  branchSha,
  commitsBetween,
  createCommit,
  git,
  mergeBaseOf,
  resolveCommit,
  serveGitHttp,
} from './gitea-server-git';
import type { GiteaContext, Reply } from './gitea-server-json';
import {
  apiError,
  branchJson,
  commitJson,
  field,
  notFound,
  repoJson,
  userJson,
} from './gitea-server-json';
import { routeProtections } from './gitea-server-protection';
import {
  createPull,
  editPull,
  listPulls,
  mergePull,
  pullFiles,
  pullJson,
} from './gitea-server-pulls';

/** One request the server received (never its credentials). */
export interface GiteaRecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

/** Which requests a fault or a delay applies to. */
export interface GiteaRequestMatch {
  method?: string;
  /** Tested against the path without its query (e.g. `/\/pulls\/\d+\/merge$/`). */
  path: RegExp;
}

/** The server and its knobs. */
export interface GiteaTestServer {
  url: string;
  /** A token of `username` with every scope. */
  token: string;
  /** A token of `username` with read scopes only: writes answer 403. */
  readOnlyToken: string;
  username: string;
  requests: GiteaRecordedRequest[];
  close(): Promise<void>;
  addOrganization(name: string): void;
  /** Adds a user with write access to every repository; answers its token (git over HTTP only). */
  addUser(name: string): string;
  /** The next `times` (default 1) matching requests answer `status` (default 500), Gitea-style. */
  failNext(match: GiteaRequestMatch, options?: { times?: number; status?: number }): void;
  /** The next `times` (default 1) matching requests are answered only after `ms`. */
  delayNext(match: GiteaRequestMatch, ms: number, times?: number): void;
  /** While on, the PR reads as during Gitea's background conflict check (not mergeable yet). */
  setChecking(owner: string, repo: string, index: number, checking: boolean): void;
  /** Commits `content` at `path` on `branch`, as someone's push would, and returns the commit. */
  commitFile(
    owner: string,
    repo: string,
    branch: string,
    path: string,
    content: string,
    message?: string,
  ): Promise<string>;
  branchHead(owner: string, repo: string, branch: string): Promise<string | null>;
}

const WRITE_SCOPE = 'token does not have at least one of required scope(s): [write:repository]';

/** Starts the server on a free port of 127.0.0.1, with one user and no repositories. */
export async function startGiteaTestServer(): Promise<GiteaTestServer> {
  const root = await mkdtemp(join(tmpdir(), 'gitea-test-'));
  let ids = 1;
  const ctx: GiteaContext = { url: '', username: 'aiworker-bot', root, nextId: () => ids++ };
  const token = randomBytes(20).toString('hex');
  const readOnlyToken = randomBytes(20).toString('hex');
  const orgs = new Set<string>();
  /** Tokens of the users tests add, by token. */
  const otherUsers = new Map<string, string>();
  const repos = new Map<string, RepoState>();
  const requests: GiteaRecordedRequest[] = [];
  const faults: Array<{ match: GiteaRequestMatch; times: number; status: number }> = [];
  const delays: Array<{ match: GiteaRequestMatch; times: number; ms: number }> = [];
  const sleepers = new Set<() => void>();
  let closed = false;

  const key = (owner: string, name: string) => `${owner}/${name}`.toLowerCase();
  const findOrg = (name: string | undefined) =>
    [...orgs].find((o) => o.toLowerCase() === name?.toLowerCase());

  async function createRepository(owner: string, body: Record<string, unknown>): Promise<Reply> {
    const name = field(body, 'name');
    if (!name) return apiError(ctx, 422, '[Name]: Required');
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.endsWith('.git')) {
      return apiError(ctx, 422, '[Name]: AlphaDashDot');
    }
    if (repos.has(key(owner, name))) {
      return apiError(ctx, 409, 'The repository with the same name already exists.');
    }
    const defaultBranch = field(body, 'default_branch') || 'main';
    const repo: RepoState = {
      id: ctx.nextId(),
      owner,
      name,
      path: join(root, owner.toLowerCase(), `${name.toLowerCase()}.git`),
      defaultBranch,
      isPrivate: body.private === true,
      hasActions: true,
      pulls: [],
      protections: new Map(),
    };
    await git(root, ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, repo.path]);
    if (body.auto_init === true) {
      const files = { 'README.md': `# ${name}\n` };
      const commit = await createCommit(repo, null, files, 'Initial commit', root);
      await git(repo.path, ['update-ref', `refs/heads/${defaultBranch}`, commit]);
    }
    repos.set(key(owner, name), repo);
    return { status: 201, body: await repoJson(ctx, repo) };
  }

  /** POST /repos/{owner}/{repo}/branches (`CreateBranchRepoOption`): 201, 404, 409 or 422. */
  async function createBranch(repo: RepoState, body: Record<string, unknown>): Promise<Reply> {
    const name = field(body, 'new_branch_name');
    if (!name) return apiError(ctx, 422, '[BranchName]: Required');
    const valid = await git(root, ['check-ref-format', `refs/heads/${name}`], { ok: [1] });
    if (valid.code !== 0 || name.startsWith('-')) {
      return apiError(ctx, 422, '[BranchName]: GitRefName');
    }
    if ((await repoJson(ctx, repo)).empty) return apiError(ctx, 404, 'Git Repository is empty.');
    let from: string | null;
    const oldRef = field(body, 'old_ref_name');
    const oldBranch = field(body, 'old_branch_name');
    if (oldRef) {
      from = await resolveCommit(repo, oldRef);
      // Gitea answers an unknown old_ref_name with an internal error, not a 404.
      if (!from) return apiError(ctx, 500, `object does not exist [id: ${oldRef}, rel_path: ]`);
    } else {
      from = await branchSha(repo, oldBranch || repo.defaultBranch);
      if (!from) return apiError(ctx, 404, 'The old branch does not exist');
    }
    const created = await git(repo.path, ['update-ref', `refs/heads/${name}`, from, ''], {
      ok: [128],
    });
    if (created.code !== 0) return apiError(ctx, 409, 'The branch already exists.');
    return { status: 201, body: await branchJson(ctx, repo, name, from) };
  }

  /** GET /repos/{owner}/{repo}/compare/{base}...{head} (`Compare`): commits newest first. */
  async function compare(repo: RepoState, spec: string): Promise<Reply> {
    const [base = '', head = ''] = spec.includes('...') ? spec.split('...') : spec.split('..');
    const baseSha = await resolveCommit(repo, base);
    const headSha = await resolveCommit(repo, head);
    if (!baseSha || !headSha) return notFound(ctx);
    const from = (await mergeBaseOf(repo, baseSha, headSha)) ?? baseSha;
    const commits = await commitsBetween(repo, from, headSha);
    const body = {
      total_commits: commits.length,
      commits: commits.map((c) => commitJson(ctx, repo, c)),
    };
    return { status: 200, body };
  }

  async function routeRepo(
    repo: RepoState,
    method: string,
    seg: string[],
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): Promise<Reply> {
    const [resource, ...rest] = seg;
    if (resource === undefined && method === 'GET') {
      return { status: 200, body: await repoJson(ctx, repo) };
    }
    if (resource === undefined && method === 'PATCH') {
      // `EditRepoOption`: only the Actions unit is kept; other fields are taken and ignored.
      if ('has_actions' in body && typeof body.has_actions !== 'boolean') {
        return apiError(ctx, 422, '[HasActions]: must be a boolean');
      }
      if (typeof body.has_actions === 'boolean') repo.hasActions = body.has_actions;
      return { status: 200, body: await repoJson(ctx, repo) };
    }
    if (resource === 'branches' && rest.length === 0 && method === 'POST') {
      return await createBranch(repo, body);
    }
    if (resource === 'branches' && rest.length > 0 && method === 'GET') {
      const branch = rest.join('/');
      const sha = await branchSha(repo, branch);
      if (!sha) return notFound(ctx, `branch does not exist [name: ${branch}]`);
      return { status: 200, body: await branchJson(ctx, repo, branch, sha) };
    }
    if (resource === 'compare' && rest.length > 0 && method === 'GET') {
      return await compare(repo, rest.join('/'));
    }
    if (resource === 'branch_protections') {
      const known = (name: string) =>
        name.toLowerCase() === ctx.username.toLowerCase() ||
        [...otherUsers.values()].some((u) => u.toLowerCase() === name.toLowerCase());
      return await routeProtections(ctx, repo, method, rest, body, known);
    }
    if (resource !== 'pulls') return notFound(ctx);
    if (rest.length === 0 && method === 'GET') return await listPulls(ctx, repo, query);
    if (rest.length === 0 && method === 'POST') return await createPull(ctx, repo, body);
    const pr = repo.pulls.find((p) => String(p.index) === rest[0]);
    if (!pr) return notFound(ctx);
    const action = `${method} ${rest.slice(1).join('/')}`;
    if (action === 'GET ') return { status: 200, body: await pullJson(ctx, repo, pr) };
    if (action === 'PATCH ') return await editPull(ctx, repo, pr, body);
    if (action === 'GET files') return await pullFiles(ctx, repo, pr, query);
    if (action === 'POST merge') return await mergePull(ctx, repo, pr, body);
    return notFound(ctx);
  }

  async function routeApi(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    writable: boolean,
  ): Promise<Reply> {
    if (method !== 'GET' && !writable) return apiError(ctx, 403, WRITE_SCOPE);
    const seg = path.split('/').slice(3).map(decodeURIComponent);
    const route = `${method} ${seg.join('/')}`;
    if (route === 'GET user') return { status: 200, body: userJson(ctx, ctx.username) };
    if (route === 'POST user/repos') return await createRepository(ctx.username, body);
    if (seg[0] === 'orgs') {
      const org = findOrg(seg[1]);
      if (org && seg.length === 2 && method === 'GET') {
        return { status: 200, body: { id: 100, name: org, username: org, visibility: 'public' } };
      }
      if (org && seg[2] === 'repos' && seg.length === 3 && method === 'POST') {
        return await createRepository(org, body);
      }
      return notFound(ctx);
    }
    const repo = seg[0] === 'repos' ? repos.get(key(seg[1] ?? '', seg[2] ?? '')) : undefined;
    if (!repo) return notFound(ctx);
    return await routeRepo(repo, method, seg.slice(3), query, body);
  }

  /** The token a request carries, as Gitea reads it. */
  function credential(req: IncomingMessage, query: URLSearchParams): string | null {
    const [scheme = '', value = ''] = (req.headers.authorization ?? '').split(' ');
    if (/^(token|bearer)$/i.test(scheme)) return value;
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      return decoded.slice(decoded.indexOf(':') + 1);
    }
    return query.get('token') ?? query.get('access_token');
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  function send(res: ServerResponse, reply: Reply): void {
    if (reply.body === undefined) {
      res.writeHead(reply.status).end();
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify(reply.body));
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      return text;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const isApi = url.pathname.startsWith('/api/v1/');
    const body = isApi && method !== 'GET' ? await readJson(req) : undefined;
    requests.push({ method, path: url.pathname, body });
    const applies = (m: GiteaRequestMatch) =>
      (!m.method || m.method === method) && m.path.test(url.pathname);
    const delay = delays.find((d) => d.times > 0 && applies(d.match));
    if (delay) {
      delay.times--;
      await sleep(delay.ms);
      if (closed || res.destroyed) return;
    }
    const fault = faults.find((f) => f.times > 0 && applies(f.match));
    if (fault) {
      fault.times--;
      send(res, apiError(ctx, fault.status, fault.status >= 500 ? 'internal error' : 'refused'));
      return;
    }
    const presented = credential(req, url.searchParams);
    const otherUser = !isApi && presented ? otherUsers.get(presented) : undefined;
    if (presented !== token && presented !== readOnlyToken && !otherUser) {
      if (isApi) {
        const why = presented ? 'invalid username, password or token' : 'token is required';
        send(res, apiError(ctx, 401, why));
      } else {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Gitea"' }).end('Unauthorized\n');
      }
      return;
    }
    const writable = presented === token || otherUser !== undefined;
    if (isApi) {
      const fields = typeof body === 'object' && body !== null ? body : {};
      send(
        res,
        await routeApi(
          method,
          url.pathname,
          url.searchParams,
          fields as Record<string, unknown>,
          writable,
        ),
      );
      return;
    }
    const match = /^\/([^/]+)\/([^/]+)\.git(\/.*)$/.exec(url.pathname);
    const repo =
      match &&
      repos.get(key(decodeURIComponent(match[1] ?? ''), decodeURIComponent(match[2] ?? '')));
    if (!repo) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Repository not found\n');
      return;
    }
    if (/git-receive-pack/.test(url.pathname + url.search) && !writable) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('User permission denied\n');
      return;
    }
    const suffix = match[3] ?? '';
    const user = otherUser ?? ctx.username;
    serveGitHttp(req, res, { root, repo, suffix, search: url.search, user });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      send(res, apiError(ctx, 500, err instanceof Error ? err.message : String(err)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const findRepo = (owner: string, name: string) => {
    const repo = repos.get(key(owner, name));
    if (!repo) throw new Error(`no repository ${owner}/${name} on the test server`);
    return repo;
  };

  return {
    url: ctx.url,
    token,
    readOnlyToken,
    username: ctx.username,
    requests,
    async close() {
      closed = true;
      for (const wake of [...sleepers]) wake();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
    addOrganization(name) {
      orgs.add(name);
    },
    addUser(name) {
      const userToken = randomBytes(20).toString('hex');
      otherUsers.set(userToken, name);
      return userToken;
    },
    failNext(match, options = {}) {
      faults.push({ match, times: options.times ?? 1, status: options.status ?? 500 });
    },
    delayNext(match, ms, times = 1) {
      delays.push({ match, ms, times });
    },
    setChecking(owner, name, index, checking) {
      const pr = findRepo(owner, name).pulls.find((p) => p.index === index);
      if (!pr) throw new Error(`no pull request #${index} in ${owner}/${name}`);
      pr.checking = checking;
    },
    async commitFile(owner, name, branch, path, content, message = `Update ${path}`) {
      const repo = findRepo(owner, name);
      const parent = await branchSha(repo, branch);
      if (!parent) throw new Error(`no branch ${branch} in ${owner}/${name}`);
      const commit = await createCommit(repo, parent, { [path]: content }, message, root);
      await git(repo.path, ['update-ref', `refs/heads/${branch}`, commit, parent]);
      return commit;
    },
    async branchHead(owner, name, branch) {
      return await branchSha(findRepo(owner, name), branch);
    },
  };
}
