/**
 * The git side of the Gitea test server: its repositories are real bare repositories, read and
 * changed with git plumbing, and served over git's smart HTTP protocol by `git http-backend`
 * (the CGI program Gitea's own HTTP transport mirrors).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/** One open, closed or merged pull request of a test repository. */
export interface PullState {
  index: number;
  id: number;
  title: string;
  body: string;
  head: string;
  base: string;
  closed: boolean;
  merged: boolean;
  mergeSha: string | null;
  mergedAt: string | null;
  /** The head and merge base at merge time, so a merged PR keeps its diff. */
  mergedHead: string | null;
  mergeBase: string | null;
  /** The last head seen while open, for when the head branch is gone. */
  lastHead: string | null;
  /** Gitea's background conflict check is running: `mergeable` is false and merging is refused. */
  checking: boolean;
  createdAt: string;
  updatedAt: string;
}

/** One branch protection rule (`gitea-server-protection.ts` serves and enforces them). */
export interface ProtectionState {
  ruleName: string;
  enablePush: boolean;
  enablePushWhitelist: boolean;
  pushWhitelist: string[];
  enableForcePush: boolean;
  enableForcePushAllowlist: boolean;
  forcePushAllowlist: string[];
  createdAt: string;
}

/** A repository of the test server: metadata in memory, content in a bare repository. */
export interface RepoState {
  id: number;
  owner: string;
  name: string;
  /** The bare repository, `<root>/<owner>/<name>.git` in lower case. */
  path: string;
  defaultBranch: string;
  isPrivate: boolean;
  /** Whether the Actions unit is on (Gitea's default where Actions is enabled). */
  hasActions: boolean;
  pulls: PullState[];
  /** Branch protection rules by rule name (a branch name). */
  protections: Map<string, ProtectionState>;
}

/** One commit as `git log` describes it. */
export interface LoggedCommit {
  sha: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  tree: string;
  message: string;
}

// Isolated from the machine's git configuration, with the identity Gitea commits merges as.
const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Gitea',
  GIT_AUTHOR_EMAIL: 'gitea@localhost',
  GIT_COMMITTER_NAME: 'Gitea',
  GIT_COMMITTER_EMAIL: 'gitea@localhost',
};

/** Runs git in `cwd`; exit statuses other than 0 and `ok` reject. */
export async function git(
  cwd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; ok?: number[] } = {},
): Promise<{ stdout: string; code: number }> {
  return await new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      { cwd, env: { ...GIT_ENV, ...opts.env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code === 0 || opts.ok?.includes(code)) resolve({ stdout, code });
        else reject(new Error(`git ${args.join(' ')}: ${stderr || err?.message}`));
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

/** The commit `rev` names (branch, tag, sha), or null. */
export async function resolveCommit(repo: RepoState, rev: string): Promise<string | null> {
  if (!rev || rev.startsWith('-')) return null;
  const args = ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`];
  const { stdout, code } = await git(repo.path, args, { ok: [1, 128] });
  return code === 0 ? stdout.trim() : null;
}

/** The head of `branch`, or null when there is no such branch. */
export async function branchSha(repo: RepoState, branch: string): Promise<string | null> {
  return await resolveCommit(repo, `refs/heads/${branch}`);
}

/** The merge base of two commits, or null when they share no history. */
export async function mergeBaseOf(repo: RepoState, a: string, b: string): Promise<string | null> {
  const { stdout } = await git(repo.path, ['merge-base', a, b], { ok: [1] });
  return stdout.trim() || null;
}

/** A real three-way merge without touching any ref: the merged tree, or the conflicting files. */
export async function mergeTree(
  repo: RepoState,
  base: string,
  head: string,
): Promise<{ tree: string; conflicts: string[] }> {
  const args = ['merge-tree', '--write-tree', '--name-only', '--no-messages', base, head];
  const { stdout, code } = await git(repo.path, args, { ok: [1] });
  const [tree = '', ...files] = stdout.split('\n').filter(Boolean);
  return { tree, conflicts: code === 0 ? [] : [...new Set(files)] };
}

/** Per-file line counts of the diff between two commits. */
export async function diffFiles(
  repo: RepoState,
  from: string,
  to: string,
): Promise<Array<{ path: string; additions: number; deletions: number }>> {
  const { stdout } = await git(repo.path, ['diff', '--numstat', '--no-renames', from, to]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [add = '0', del = '0', ...rest] = line.split('\t');
      return { path: rest.join('\t'), additions: Number(add) || 0, deletions: Number(del) || 0 };
    });
}

/** Commits reachable from `head` and not from `base`, newest first (as `git log` lists them). */
export async function commitsBetween(
  repo: RepoState,
  base: string,
  head: string,
): Promise<LoggedCommit[]> {
  const format = '%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%B%x1e';
  const { stdout } = await git(repo.path, ['log', `--format=${format}`, `${base}..${head}`]);
  return stdout
    .split('\x1e')
    .map((entry) => entry.replace(/^\n/, ''))
    .filter(Boolean)
    .map((entry) => {
      const [sha = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = ''] =
        entry.split('\x00');
      const [tree = '', message = ''] = entry.split('\x00').slice(8);
      return {
        sha,
        parents: parents.split(' ').filter(Boolean),
        author: { name: an, email: ae, date: ad },
        committer: { name: cn, email: ce, date: cd },
        tree,
        message,
      };
    });
}

/** Writes a commit of `parent`'s tree with `files` replaced, through a private index. */
export async function createCommit(
  repo: RepoState,
  parent: string | null,
  files: Record<string, string>,
  message: string,
  scratchDir: string,
): Promise<string> {
  const index = join(scratchDir, `index-${randomBytes(6).toString('hex')}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    if (parent) await git(repo.path, ['read-tree', parent], { env });
    for (const [path, content] of Object.entries(files)) {
      const blob = await git(repo.path, ['hash-object', '-w', '--stdin'], { input: content });
      const entry = `100644,${blob.stdout.trim()},${path}`;
      await git(repo.path, ['update-index', '--add', '--cacheinfo', entry], { env });
    }
    const tree = (await git(repo.path, ['write-tree'], { env })).stdout.trim();
    const parents = parent ? ['-p', parent] : [];
    const commit = await git(repo.path, ['commit-tree', tree, ...parents, '-m', message]);
    return commit.stdout.trim();
  } finally {
    await rm(index, { force: true });
  }
}

/**
 * Answers one request of git's smart HTTP protocol for `repo` by running `git http-backend` as a
 * CGI program: request body in, CGI headers and body out. `user` is who pushes (receive-pack is
 * enabled only for an authenticated user, as in Gitea).
 */
export function serveGitHttp(
  req: IncomingMessage,
  res: ServerResponse,
  opts: { root: string; repo: RepoState; suffix: string; search: string; user: string },
): void {
  const { repo } = opts;
  const child = spawn('git', ['http-backend'], {
    env: {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${repo.owner.toLowerCase()}/${repo.name.toLowerCase()}.git${opts.suffix}`,
      QUERY_STRING: opts.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_USER: opts.user,
      REMOTE_ADDR: '127.0.0.1',
    },
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  // A client that goes away mid-request (a push cut off) leaves http-backend waiting for the rest
  // of its body: it is stopped, as a real server stops the request's handler.
  res.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    started = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
      else if (name) res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (res.destroyed) return;
    if (!started) res.writeHead(500, { 'content-type': 'text/plain' }).end('git failed\n');
    else res.end();
  });
}
