/**
 * The checkout of a local preview. The repository (`<dir>/git`) stays the worker's; only the
 * working tree (`<dir>/app`) is the preview's, mounted into its sandbox.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { git, resolveCommit } from '../forge/git';
import { PreviewFailed } from './runtime';
import type { PreviewSpec } from './runtime';
import { chownTree } from './sandbox-users';

const GIT_TIMEOUT_MS = 300_000;

/**
 * Checks out `spec.commit` into `<dir>/app` from the repository in `<dir>/git`. Git runs here, as
 * the worker, on a folder the branch's code could write to while it ran, so every command names
 * the repository explicitly: hooks or settings the app wrote into the checkout are never read.
 */
export async function checkout(
  spec: PreviewSpec,
  dir: string,
  owner: number | null,
): Promise<void> {
  if (!/^[0-9a-f]{7,64}$/.test(spec.commit)) {
    throw new PreviewFailed(`"${spec.commit}" is not a commit id`);
  }
  const gitDir = path.join(dir, 'git');
  const appDir = path.join(dir, 'app');
  const opts = { cwd: gitDir, timeoutMs: GIT_TIMEOUT_MS, env: spec.gitEnv };
  if (!(await stat(path.join(gitDir, 'HEAD')).catch(() => null))) {
    // First deploy, or a folder of an earlier release that kept the repository inside the checkout.
    await rm(gitDir, { recursive: true, force: true });
    await rm(appDir, { recursive: true, force: true });
    await mkdir(gitDir, { mode: 0o700 });
    await git(['init', '--quiet', '--bare'], opts);
    await git(['remote', 'add', 'origin', spec.cloneUrl], opts);
  } else {
    await git(['remote', 'set-url', 'origin', spec.cloneUrl], opts);
  }
  if (!(await resolveCommit(gitDir, spec.commit))) {
    await git(
      ['fetch', '--quiet', '--force', 'origin', '+refs/heads/*:refs/remotes/origin/*'],
      opts,
    );
  }
  if (!(await resolveCommit(gitDir, spec.commit))) {
    throw new PreviewFailed(`commit ${spec.commit} is not in the repository of ${spec.branch}`);
  }
  await mkdir(appDir, { recursive: true, mode: 0o755 });
  await removeSpecialFiles(appDir);
  const tree = `--work-tree=${appDir}`;
  await git([tree, 'checkout', '--quiet', '--force', '--detach', spec.commit], opts);
  // Files the previous commit left behind go; ignored ones (installed dependencies) stay.
  await git([tree, 'clean', '--quiet', '--force', '-d'], opts);
  if (owner !== null) await chownTree(appDir, owner);
}

/**
 * Removes what a previous run of the app may have left in its checkout that is not a file, a
 * folder or a link (named pipes, sockets, devices): git, reading `.gitattributes` or
 * `.gitignore` made into a pipe, would wait on it until its time runs out. `find` does not
 * follow links and stays on the checkout's file system.
 */
async function removeSpecialFiles(appDir: string): Promise<void> {
  await promisify(execFile)(
    'find',
    [
      appDir,
      '-xdev',
      '(',
      '-type',
      'p',
      '-o',
      '-type',
      's',
      '-o',
      '-type',
      'b',
      '-o',
      '-type',
      'c',
      ')',
      '-delete',
    ],
    { timeout: GIT_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } },
  );
}
