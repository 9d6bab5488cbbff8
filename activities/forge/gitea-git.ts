/**
 * What Gitea's REST API cannot do, done with real git against the repository's clone URL from a
 * throwaway bare repository: moving a branch back to an older commit (the API can create,
 * rename and delete branches but not move one) and naming the files that conflict (the API
 * only says a PR is not mergeable). The token goes to git as an HTTP header through the
 * environment, scoped to Gitea's origin: never on a command line, never in a URL git might
 * print.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForgeRefusal, ForgeUnavailable } from './forge';
import { giteaGitEnv } from './gitea-auth';

/** How the provider runs git against Gitea. */
export interface GiteaGitOptions {
  username: string;
  token: string;
  timeoutMs: number;
  redact: (text: string) => string;
}

/** The git operations of the Gitea forge. */
export interface GiteaGit {
  /**
   * The files that conflict when `commit` is merged into `base` ([] when it merges cleanly).
   * `head` is the PR's branch, fetched so that `commit` is there.
   */
  conflicts(cloneUrl: string, base: string, head: string, commit: string): Promise<string[]>;
  /**
   * Force-pushes `to` onto `branch` with a lease on `expected`: 'stale' when the branch no
   * longer points at `expected` (nothing changed then).
   */
  moveBranch(
    cloneUrl: string,
    branch: string,
    move: { to: string; expected: string },
  ): Promise<'moved' | 'stale'>;
}

interface GitRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Creates the git operations; each runs in its own temporary bare repository. */
export function createGiteaGit(options: GiteaGitOptions): GiteaGit {
  const { redact } = options;

  /** Runs git in `cwd`; with `cloneUrl`, requests to its origin carry the token. */
  function run(cwd: string, args: string[], cloneUrl?: string): Promise<GitRun> {
    const auth = cloneUrl ? giteaGitEnv(options, cloneUrl) : {};
    // A prompt for credentials would hang the activity: fail instead.
    const env = {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '',
      SSH_ASKPASS: '',
      ...auth,
    };
    return new Promise((resolve) => {
      execFile(
        'git',
        args,
        { cwd, env, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          if (err && typeof err.code === 'string') stderr = `${stderr}${err.message}`;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** The forge error for a git run that failed; `action` says what it was for. */
  function failure(result: GitRun, action: string): Error {
    const said = redact(result.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 400));
    const detail = said ? ` git said: "${said}"` : '';
    if (result.code === null && /ENOENT/.test(result.stderr)) {
      return new ForgeRefusal(`git is not installed on this worker; it is needed for ${action}`);
    }
    if (result.code === null) {
      return new ForgeUnavailable(
        `git did not finish ${action} within ${options.timeoutMs} ms; try again later.`,
      );
    }
    if (/returned error: 401|Authentication failed|could not read Username/i.test(said)) {
      return new ForgeRefusal(
        `Gitea rejected the credentials of "${options.username}" over git while ${action}.${detail}`,
      );
    }
    if (/returned error: 403/i.test(said)) {
      return new ForgeRefusal(
        `Gitea denied "${options.username}" write access over git while ${action}.${detail}`,
      );
    }
    if (/remote rejected|hook declined|protected branch/i.test(said)) {
      return new ForgeRefusal(`Gitea refused the push while ${action}.${detail}`);
    }
    if (/returned error: 404|not found|does not appear to be a git repository/i.test(said)) {
      return new ForgeRefusal(`Gitea has no such repository over git while ${action}.${detail}`);
    }
    return new ForgeUnavailable(`git failed while ${action}; try again later.${detail}`);
  }

  async function inScratch<T>(work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'aiworker-gitea-'));
    try {
      const init = await run(dir, ['init', '--quiet', '--bare', dir]);
      if (init.code !== 0) throw failure(init, 'preparing a scratch repository');
      return await work(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function fetchBranches(dir: string, cloneUrl: string, branches: string[], action: string) {
    const refspecs = branches.map((b) => `+refs/heads/${b}:refs/scratch/${b}`);
    const args = ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', cloneUrl, ...refspecs];
    const fetched = await run(dir, args, cloneUrl);
    if (fetched.code !== 0) throw failure(fetched, action);
  }

  async function hasCommit(dir: string, sha: string): Promise<boolean> {
    const probe = await run(dir, ['cat-file', '-e', `${sha}^{commit}`]);
    return probe.code === 0;
  }

  return {
    async conflicts(cloneUrl, base, head, commit) {
      const action = `checking which files conflict between ${base} and ${head}`;
      return await inScratch(async (dir) => {
        await fetchBranches(dir, cloneUrl, [base, head], action);
        const theirs = (await hasCommit(dir, commit)) ? commit : `refs/scratch/${head}`;
        const args = ['merge-tree', '--write-tree', '--name-only', '--no-messages'];
        const merged = await run(dir, [...args, `refs/scratch/${base}`, theirs]);
        if (merged.code === 0) return [];
        if (merged.code !== 1) throw failure(merged, action);
        // The first line is the merged tree, then one line per conflicting file.
        return [...new Set(merged.stdout.split('\n').slice(1).filter(Boolean))];
      });
    },

    async moveBranch(cloneUrl, branch, { to, expected }) {
      const action = `moving branch ${branch} back to ${to}`;
      return await inScratch(async (dir) => {
        await fetchBranches(dir, cloneUrl, [branch], action);
        if (!(await hasCommit(dir, to))) {
          // Not an ancestor of the branch: ask for the commit itself (servers may refuse).
          await run(
            dir,
            ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', cloneUrl, to],
            cloneUrl,
          );
          if (!(await hasCommit(dir, to))) {
            throw new ForgeRefusal(
              `commit ${to} is not in the repository; cannot move ${branch} to it`,
            );
          }
        }
        const lease = `--force-with-lease=refs/heads/${branch}:${expected}`;
        const args = ['push', '--porcelain', lease, cloneUrl, `${to}:refs/heads/${branch}`];
        const pushed = await run(dir, args, cloneUrl);
        if (pushed.code === 0) return 'moved';
        if (/stale info/.test(pushed.stdout + pushed.stderr)) return 'stale';
        throw failure(pushed, action);
      });
    },
  };
}
