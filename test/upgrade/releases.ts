import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { REPO_ROOT } from '../../platform/config';
import { quietBundlerLogger } from '../harness/services';
import { compareVersions } from '../replay/corpus';

/**
 * The workflow code of every release (`workflows/` and `contracts/`, without tests), as
 * `<version>.tgz` written by `npm run corpus:capture`: the upgrade test bundles it to run a
 * worker of that release.
 */
export const RELEASES_DIR = path.join(__dirname, 'releases');

/** The folders whose files make up the workflow bundle. */
const WORKFLOW_SOURCES = ['workflows', 'contracts'];

/** Archives the workflow sources of `commit` as release `release`; answers the file. */
export function writeWorkflowSources(release: string, commit: string): string {
  mkdirSync(RELEASES_DIR, { recursive: true });
  const file = path.join(RELEASES_DIR, `${release}.tgz`);
  execFileSync(
    'git',
    [
      'archive',
      '--format=tar.gz',
      '-o',
      file,
      commit,
      '--',
      ...WORKFLOW_SOURCES,
      ':(exclude)*.test.ts',
    ],
    { cwd: REPO_ROOT },
  );
  return file;
}

/** Releases with archived workflow sources, oldest first. */
export function archivedReleases(): string[] {
  if (!existsSync(RELEASES_DIR)) return [];
  return readdirSync(RELEASES_DIR)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => f.slice(0, -'.tgz'.length))
    .sort(compareVersions);
}

/** Unpacks a release's workflow sources into a new temporary folder; answers the folder. */
export function unpackRelease(release: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `aiworker-release-${release}-`));
  execFileSync('tar', ['-xzf', path.join(RELEASES_DIR, `${release}.tgz`), '-C', dir]);
  return dir;
}

/** Whether an unpacked release has exactly the workflow sources of this checkout. */
export function sameAsCurrent(unpacked: string): boolean {
  const files = (root: string) =>
    WORKFLOW_SOURCES.flatMap((folder) =>
      readdirSync(path.join(root, folder))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => path.join(folder, f)),
    ).sort();
  const theirs = files(unpacked);
  const ours = files(REPO_ROOT);
  return (
    theirs.join('\n') === ours.join('\n') &&
    theirs.every(
      (f) =>
        readFileSync(path.join(unpacked, f), 'utf8') ===
        readFileSync(path.join(REPO_ROOT, f), 'utf8'),
    )
  );
}

/**
 * The newest release whose workflow code differs from this checkout's: the release an upgrade
 * to this code starts from (the newest release when none differs: then the upgrade is a
 * restart on the same code). Answers its name and unpacked folder, or null when there is none.
 */
export function previousRelease(): { release: string; dir: string } | null {
  const releases = archivedReleases().reverse();
  for (const release of releases) {
    const dir = unpackRelease(release);
    if (!sameAsCurrent(dir)) return { release, dir };
    rmSync(dir, { recursive: true, force: true });
  }
  return releases[0] ? { release: releases[0], dir: unpackRelease(releases[0]) } : null;
}

/** Bundles an unpacked release's workflow code (with this checkout's packages); answers its code. */
export async function bundleRelease(dir: string): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(dir, 'workflows', 'index.ts'),
    logger: quietBundlerLogger,
    webpackConfigHook: (config) => ({
      ...config,
      resolve: {
        ...config.resolve,
        modules: ['node_modules', path.join(REPO_ROOT, 'node_modules')],
      },
    }),
  });
  return bundle.code;
}
