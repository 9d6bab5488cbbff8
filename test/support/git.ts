import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';

/** The tiny web app that end-to-end tests push to a project and run as previews. */
export const FIXTURE_APP = path.join(__dirname, '..', 'fixtures', 'preview-app');

/** Runs plain git as a person would (its own identity), answering its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  }).trim();
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
