import { execFileSync } from 'node:child_process';
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
