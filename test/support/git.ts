import { execFile, execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendRequest } from '../../api/git/backend';

/** The tiny web app that end-to-end tests push to a project and run as previews. */
export const FIXTURE_APP = path.join(__dirname, '..', 'fixtures', 'preview-app');

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

/** Runs plain git as a person would (its own identity), answering its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...IDENTITY },
  }).trim();
}

/**
 * `git` without blocking: for git that talks to the git gateway of an API running in this same
 * test process (a blocking call would keep that API from answering).
 */
export function gitAsync(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'utf8', env: { ...process.env, ...IDENTITY, GIT_TERMINAL_PROMPT: '0' } },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`git ${args.join(' ')}: ${stderr || err.message}`))
          : resolve(stdout.trim()),
    );
  });
}

/**
 * Puts the fixture app on a project's `staging` branch, as a real project would start, from a
 * clone under `parent`; answers that clone (on `staging`) for the test to work in.
 */
export function seedWithFixtureApp(cloneUrl: string, parent: string): string {
  git(parent, 'clone', '--quiet', cloneUrl, 'repo');
  const repo = path.join(parent, 'repo');
  git(repo, 'checkout', '--quiet', '-B', 'staging', 'origin/staging');
  cpSync(FIXTURE_APP, repo, { recursive: true });
  git(repo, 'add', '--all');
  git(repo, 'commit', '--quiet', '-m', 'the app');
  git(repo, 'push', '--quiet', 'origin', 'HEAD:refs/heads/staging');
  return repo;
}

/**
 * The bare repository of a local project on the worker's disk, as a `file://` URL: what tests
 * seed and inspect as the operator would. Agents never get it; they go through the git gateway.
 */
export function localRepositoryUrl(projectId: string): string {
  return pathToFileURL(localRepositoryPath(projectId)).href;
}

/** The folder of a local project's bare repository (`$AIWORKER_DATA_DIR/repos/<id>.git`). */
export function localRepositoryPath(projectId: string): string {
  return path.join(process.env.AIWORKER_DATA_DIR!, 'repos', `${projectId}.git`);
}

/**
 * Environment that makes git authenticate to the git gateway with an aiworker token, as an agent
 * configures it (`http.extraHeader`), and never prompt.
 */
export function gatewayGitEnv(token: string): Record<string, string> {
  return {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}`,
  };
}

/** An agent's `GET info/refs` for a clone, as the gateway hands it to a backend. */
export function infoRefsRequest(): BackendRequest {
  return {
    action: 'info/refs',
    service: 'git-upload-pack',
    method: 'GET',
    contentType: null,
    gitProtocol: null,
    body: null,
    remoteUser: 'agent-a',
    remoteAddr: '127.0.0.1',
    signal: new AbortController().signal,
  };
}
