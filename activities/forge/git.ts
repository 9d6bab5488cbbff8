/**
 * Runs git as a child process: no shell (arguments are never parsed by one), no prompts, and a
 * fixed identity so commits made by the forge say who made them.
 */
import { execFile } from 'node:child_process';

/** The identity of every commit the forge or the preview runtime makes itself. */
export const GIT_IDENTITY = { name: 'aiworker', email: 'aiworker@localhost' } as const;

const DEFAULT_TIMEOUT_MS = 120_000;
// Diffs and logs of large branches go through stdout; the default 1 MiB would cut them off.
const MAX_BUFFER = 64 * 1024 * 1024;

/** Thrown by `git` when git exits with a status the caller did not accept, or cannot run. */
export class GitFailed extends Error {
  constructor(
    /** The arguments git ran with (credentials in URLs masked). */
    readonly args: string[],
    /** Git's exit status; null when it could not start or was killed (timeout). */
    readonly exitCode: number | null,
    /** What git wrote on stderr (credentials in URLs masked). */
    readonly stderr: string,
  ) {
    const detail = stderr.trim() || (exitCode === null ? 'did not finish' : `exit ${exitCode}`);
    super(`git ${args.join(' ')}: ${detail}`);
    this.name = 'GitFailed';
  }
}

/** What a finished git command printed, and how it exited. */
export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options of one git run. */
export interface GitOptions {
  /** Working directory (a checkout, or a bare repository). */
  cwd?: string;
  /** Written to git's stdin (e.g. a blob for `hash-object --stdin`, a message for `commit-tree`). */
  input?: string;
  /** Exit statuses that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okExitCodes?: number[];
  timeoutMs?: number;
  /** Extra environment (e.g. a forge's credentials as an HTTP header). */
  env?: Record<string, string>;
}

/** Masks `user:password@` in URLs, so a clone URL with a token never reaches a log or a board. */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

function gitEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // A credential prompt would hang the activity forever; fail instead.
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: GIT_IDENTITY.name,
    GIT_AUTHOR_EMAIL: GIT_IDENTITY.email,
    GIT_COMMITTER_NAME: GIT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: GIT_IDENTITY.email,
  };
}

/**
 * Runs `git <args>` and resolves with its output. Rejects with `GitFailed` when git cannot start,
 * times out, or exits with a status other than 0 and `okExitCodes`.
 */
export async function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const ok = new Set([0, ...(opts.okExitCodes ?? [])]);
  return await new Promise<GitResult>((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      {
        cwd: opts.cwd,
        env: { ...gitEnv(), ...opts.env },
        encoding: 'utf8',
        maxBuffer: MAX_BUFFER,
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        if (code !== null && ok.has(code)) {
          resolve({ stdout, stderr, exitCode: code });
          return;
        }
        const why = stderr || (err && code === null ? err.message : '');
        reject(
          new GitFailed(
            args.map(redactCredentials),
            err?.killed ? null : code,
            redactCredentials(why),
          ),
        );
      },
    );
    // git may exit before reading all of stdin (e.g. on a bad argument); that is not our error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

/** The commit `rev` names (a branch ref, a sha), or null when it names no commit. */
export async function resolveCommit(cwd: string, rev: string): Promise<string | null> {
  const { stdout, exitCode } = await git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
    cwd,
    okExitCodes: [1],
  });
  return exitCode === 0 ? stdout.trim() : null;
}

/** Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor). */
export async function isAncestor(
  cwd: string,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  const { exitCode } = await git(['merge-base', '--is-ancestor', ancestor, descendant], {
    cwd,
    okExitCodes: [1],
  });
  return exitCode === 0;
}
