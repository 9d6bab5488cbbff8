/**
 * The default forge: one bare repository per project on this machine's disk, real git for every
 * operation, and pull requests kept in the read model. Nothing here needs a worktree: commits
 * and merges are made with git's plumbing, and branches move only by compare-and-swap.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Db } from '../../db/client';
import {
  createPullRequest,
  findOpenPullRequestByHead,
  findPullRequest,
  markPullRequestMerged,
  PullRequestProjectMissing,
  updatePullRequestHead,
} from '../../db/pull-requests';
import type { PullRequestDiff, PullRequestRecord } from '../../db/pull-requests';
import { ForgeRefusal, ForgeUnavailable, STAGING_BRANCH } from './forge';
import type { Forge, MergeOutcome, PullRequestInfo, RepoRef } from './forge';
import { git, GitFailed, isAncestor, resolveCommit } from './git';

/** What the local forge needs. */
export interface LocalForgeOptions {
  /** Folder holding `<projectId>.git` for every project. */
  reposDir: string;
  db: Db;
  /** Where a person reads pull request `number` of a project (the board's page). */
  pullRequestUrl: (projectId: string, number: number) => string;
}

const MAIN_BRANCH = 'main';
// Bounded so a base that never stops moving cannot keep a merge spinning forever.
const MERGE_ATTEMPTS = 5;
const TITLE_MAX = 300;

/** Branch names git accepts, minus the ones that could be read as options or revisions. */
function assertBranchName(name: string): void {
  const bad =
    name.length === 0 ||
    name.length > 200 ||
    name.startsWith('-') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.') ||
    name.endsWith('.lock') ||
    name.includes('..') ||
    name.includes('//') ||
    name.includes('@{') ||
    name === '@' ||
    [...name].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f) ||
    /[~^:?*[\\]/.test(name) ||
    name.split('/').some((part) => part.startsWith('.'));
  if (bad) throw new ForgeRefusal(`"${name}" is not a valid branch name`);
}

function isSha(rev: string): boolean {
  return /^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(rev);
}

function ref(branch: string): string {
  assertBranchName(branch);
  return `refs/heads/${branch}`;
}

/** `git update-ref`'s "must not exist yet" old value, as long as `sha`. */
function absent(sha: string): string {
  return '0'.repeat(sha.length);
}

/** Parses `git diff --numstat -z --no-renames`: `added<TAB>deleted<TAB>path<NUL>` per file. */
function parseNumstat(out: string, headSha: string): PullRequestDiff {
  const files = out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const [added = '-', deleted = '-', ...rest] = record.split('\t');
      // Binary files show `-` for both counts: changed, with no lines to count.
      return {
        path: rest.join('\t'),
        additions: added === '-' ? 0 : Number(added),
        deletions: deleted === '-' ? 0 : Number(deleted),
      };
    });
  return {
    headSha,
    filesChanged: files.length,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    files,
  };
}

/**
 * Merges `theirs` into `ours` in memory (`git merge-tree --write-tree`, git ≥ 2.38): the merged
 * tree when it is clean, or the conflicting files. Exit status 1 means conflicts.
 */
async function mergeTree(
  cwd: string,
  ours: string,
  theirs: string,
): Promise<{ clean: boolean; tree: string; conflicts: string[] }> {
  const { stdout, exitCode } = await git(
    ['merge-tree', '--write-tree', '-z', '--name-only', '--no-messages', ours, theirs],
    { cwd, okExitCodes: [1] },
  );
  const [tree = '', ...rest] = stdout.split('\0');
  const end = rest.indexOf('');
  const names = end === -1 ? rest : rest.slice(0, end);
  return { clean: exitCode === 0, tree, conflicts: exitCode === 0 ? [] : [...new Set(names)] };
}

/** Creates the local forge (see the module comment). */
export function createLocalForge(options: LocalForgeOptions): Forge {
  const { reposDir, db } = options;

  function repoDir(repo: RepoRef): string {
    if (repo.provider !== 'local') {
      throw new ForgeRefusal(`project ${repo.projectId} uses the ${repo.provider} forge`);
    }
    // The id becomes a folder name: nothing that could climb out of reposDir.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(repo.projectId)) {
      throw new ForgeRefusal(`"${repo.projectId}" is not a valid project id`);
    }
    return path.join(reposDir, `${repo.projectId}.git`);
  }

  async function existingRepo(repo: RepoRef): Promise<string> {
    const dir = repoDir(repo);
    const found = await stat(path.join(dir, 'HEAD')).catch(() => null);
    if (!found) throw new ForgeRefusal(`no repository for project ${repo.projectId}`);
    return dir;
  }

  /** Runs `fn`, turning git's unexpected failures (locks, disk) into retryable ones. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GitFailed) throw new ForgeUnavailable(err.message);
      if (err instanceof PullRequestProjectMissing) throw new ForgeRefusal(err.message);
      throw err;
    }
  }

  /** A branch name, or a full commit sha, to the commit it names; refused when there is none. */
  async function commitOf(dir: string, rev: string, what: string): Promise<string> {
    const sha = await resolveCommit(dir, isSha(rev) ? rev : ref(rev));
    if (!sha) throw new ForgeRefusal(`${what} ${rev} does not exist`);
    return sha;
  }

  async function head(dir: string, branch: string): Promise<string | null> {
    return await resolveCommit(dir, ref(branch));
  }

  /** Moves `branch` from `expected` (or from nothing) to `to`; false when it was not there. */
  async function swapRef(dir: string, branch: string, to: string, expected: string | null) {
    const { exitCode } = await git(['update-ref', ref(branch), to, expected ?? absent(to)], {
      cwd: dir,
      okExitCodes: [1, 128],
    });
    return exitCode === 0;
  }

  async function diffSummary(dir: string, base: string, headSha: string): Promise<PullRequestDiff> {
    const { stdout, exitCode } = await git(['merge-base', base, headSha], {
      cwd: dir,
      okExitCodes: [1],
    });
    if (exitCode !== 0) throw new ForgeRefusal('the branch shares no history with its base');
    const diff = await git(
      ['diff', '--numstat', '-z', '--no-renames', '--no-ext-diff', stdout.trim(), headSha],
      { cwd: dir },
    );
    return parseNumstat(diff.stdout, headSha);
  }

  async function mergeable(dir: string, pr: PullRequestRecord): Promise<boolean | null> {
    if (pr.state !== 'open') return null;
    const base = await head(dir, pr.baseBranch);
    if (!base) return null;
    return (await mergeTree(dir, base, pr.headSha)).clean;
  }

  async function present(dir: string, pr: PullRequestRecord): Promise<PullRequestInfo> {
    return {
      number: pr.number,
      url: options.pullRequestUrl(pr.projectId, pr.number),
      state: pr.state,
      head: pr.headBranch,
      base: pr.baseBranch,
      headSha: pr.headSha,
      mergeable: await mergeable(dir, pr),
      filesChanged: pr.filesChanged,
      additions: pr.additions,
      deletions: pr.deletions,
      files: pr.files,
    };
  }

  async function loadPr(repo: RepoRef, number: number): Promise<PullRequestRecord> {
    const pr = await findPullRequest(db, repo.projectId, number);
    if (!pr) throw new ForgeRefusal(`no pull request #${number} in project ${repo.projectId}`);
    return pr;
  }

  async function initialCommit(dir: string, projectId: string): Promise<string> {
    const readme = `# ${projectId}\n\nRepository of aiworker project ${projectId}.\n`;
    const blob = await git(['hash-object', '-w', '--stdin'], { cwd: dir, input: readme });
    const tree = await git(['mktree'], {
      cwd: dir,
      input: `100644 blob ${blob.stdout.trim()}\tREADME.md\n`,
    });
    const commit = await git(['commit-tree', '--no-gpg-sign', tree.stdout.trim(), '-F', '-'], {
      cwd: dir,
      input: 'Initial commit\n',
    });
    return commit.stdout.trim();
  }

  return {
    async ensureRepository(repo) {
      const dir = repoDir(repo);
      return await guarded(async () => {
        await mkdir(reposDir, { recursive: true });
        // Re-running init on an existing repository is safe: git leaves its refs alone.
        await git(['init', '--quiet', '--bare', `--initial-branch=${MAIN_BRANCH}`, dir]);
        let main = await head(dir, MAIN_BRANCH);
        if (!main) {
          const first = await initialCommit(dir, repo.projectId);
          // Two concurrent first calls both build a commit; only one takes the branch.
          await swapRef(dir, MAIN_BRANCH, first, null);
          main = await head(dir, MAIN_BRANCH);
          if (!main) throw new ForgeUnavailable(`could not create ${MAIN_BRANCH} in ${dir}`);
        }
        if (!(await head(dir, STAGING_BRANCH))) await swapRef(dir, STAGING_BRANCH, main, null);
        return { cloneUrl: pathToFileURL(dir).href };
      });
    },

    async cloneUrl(repo) {
      return pathToFileURL(await existingRepo(repo)).href;
    },

    // A local repository is read straight from disk.
    gitEnv: () => ({}),

    async createBranch(repo, branch, from) {
      const dir = await existingRepo(repo);
      return await guarded(async () => {
        const existing = await head(dir, branch);
        if (existing) return { created: false, sha: existing };
        const sha = await commitOf(dir, from, 'branch');
        if (await swapRef(dir, branch, sha, null)) return { created: true, sha };
        // Someone created it between our look and our write: theirs stands.
        const theirs = await head(dir, branch);
        if (!theirs) throw new ForgeUnavailable(`could not create branch ${branch}`);
        return { created: false, sha: theirs };
      });
    },

    async branchHead(repo, branch) {
      const dir = await existingRepo(repo);
      return await guarded(() => head(dir, branch));
    },

    async commitsBetween(repo, base, headRev) {
      const dir = await existingRepo(repo);
      return await guarded(async () => {
        const from = await commitOf(dir, base, 'branch');
        const to = await commitOf(dir, headRev, 'branch');
        const { stdout } = await git(['log', '--reverse', '--format=%H %s', `${from}..${to}`], {
          cwd: dir,
        });
        return stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const space = line.indexOf(' ');
            return space === -1
              ? { sha: line, subject: '' }
              : { sha: line.slice(0, space), subject: line.slice(space + 1) };
          });
      });
    },

    async openPullRequest(repo, pr) {
      const dir = await existingRepo(repo);
      return await guarded(async () => {
        const title = pr.title.slice(0, TITLE_MAX);
        const headSha = await head(dir, pr.head);
        if (!headSha) {
          throw new ForgeRefusal(`branch ${pr.head} is not on the forge: push your branch first`);
        }
        const existing = await findOpenPullRequestByHead(db, repo.projectId, pr.head);
        const base = existing?.baseBranch ?? pr.base;
        const baseSha = await commitOf(dir, base, 'base branch');
        const diff = await diffSummary(dir, baseSha, headSha);
        const record = existing
          ? await updatePullRequestHead(db, existing.id, {
              diff,
              title,
              body: pr.body,
              ...(existing.taskId === null && pr.taskId !== undefined && { taskId: pr.taskId }),
            })
          : await createPullRequest(db, {
              projectId: repo.projectId,
              taskId: pr.taskId ?? null,
              title,
              body: pr.body,
              headBranch: pr.head,
              baseBranch: pr.base,
              diff,
            });
        return await present(dir, record);
      });
    },

    async getPullRequest(repo, number) {
      const dir = await existingRepo(repo);
      return await guarded(async () => {
        let pr = await loadPr(repo, number);
        if (pr.state === 'open') {
          const headSha = await head(dir, pr.headBranch);
          const baseSha = await head(dir, pr.baseBranch);
          // A deleted head or base leaves the last diff we saw.
          if (headSha && baseSha) {
            const diff = await diffSummary(dir, baseSha, headSha);
            if (JSON.stringify(diff) !== JSON.stringify(pickDiff(pr))) {
              pr = await updatePullRequestHead(db, pr.id, { diff });
            }
          }
        }
        return await present(dir, pr);
      });
    },

    async mergePullRequest(repo, { number, commit, message }): Promise<MergeOutcome> {
      const dir = await existingRepo(repo);
      return await guarded(async () => {
        const pr = await loadPr(repo, number);
        if (pr.state === 'closed') throw new ForgeRefusal(`pull request #${number} is closed`);
        if (!isSha(commit) || !(await resolveCommit(dir, commit))) {
          throw new ForgeRefusal(`commit ${commit} is not in the repository`);
        }
        const branchTip = await head(dir, pr.headBranch);
        const onHead =
          (branchTip !== null && (await isAncestor(dir, commit, branchTip))) ||
          (await isAncestor(dir, commit, pr.headSha));
        if (!onHead) {
          throw new ForgeRefusal(
            `commit ${commit} is not on ${pr.headBranch}, the head of pull request #${number}`,
          );
        }
        for (let attempt = 1; attempt <= MERGE_ATTEMPTS; attempt++) {
          const base = await commitOf(dir, pr.baseBranch, 'base branch');
          if (await isAncestor(dir, commit, base)) {
            // A retry, or a merge that landed concurrently: report it, do not merge again.
            const mergeSha = pr.state === 'merged' && pr.mergeSha ? pr.mergeSha : base;
            if (pr.state !== 'merged') await markPullRequestMerged(db, pr.id, mergeSha);
            return { merged: true, mergeSha, alreadyMerged: true };
          }
          const { clean, tree, conflicts } = await mergeTree(dir, base, commit);
          if (!clean) return { merged: false, conflicts };
          const created = await git(
            ['commit-tree', '--no-gpg-sign', tree, '-p', base, '-p', commit, '-F', '-'],
            { cwd: dir, input: message.endsWith('\n') ? message : `${message}\n` },
          );
          const mergeSha = created.stdout.trim();
          // The one write: base moves from exactly `base` to the merge, or not at all.
          if (await swapRef(dir, pr.baseBranch, mergeSha, base)) {
            await markPullRequestMerged(db, pr.id, mergeSha);
            return { merged: true, mergeSha, alreadyMerged: false };
          }
        }
        throw new ForgeUnavailable(
          `${pr.baseBranch} kept moving while merging pull request #${number}; try again`,
        );
      });
    },

    async resetBranch(repo, branch, { to, expected }) {
      const dir = await existingRepo(repo);
      await guarded(async () => {
        const target = await commitOf(dir, to, 'commit');
        const current = await head(dir, branch);
        if (current === target) return;
        if (current === null) throw new ForgeRefusal(`branch ${branch} does not exist`);
        if (current !== expected || !(await swapRef(dir, branch, target, expected))) {
          const now = (await head(dir, branch)) ?? 'nothing';
          if (now === target) return;
          throw new ForgeRefusal(
            `not resetting ${branch}: it points at ${now}, not at ${expected}; someone moved it since`,
          );
        }
      });
    },
  };
}

function pickDiff(pr: PullRequestRecord): PullRequestDiff {
  const { headSha, filesChanged, additions, deletions, files } = pr;
  return { headSha, filesChanged, additions, deletions, files };
}
