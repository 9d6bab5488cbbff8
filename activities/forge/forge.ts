/**
 * The git forge behind a project: where its repository lives, where agents push, and how pull
 * requests are opened and merged. One interface, two providers: `local` (bare repositories on
 * disk, real git; the default) and `gitea` (its REST API). Activities are the only callers.
 */

/** A project's repository, as the read model describes it. */
export interface RepoRef {
  projectId: string;
  provider: 'local' | 'gitea';
  /** Gitea: the owner (user or organisation); local: unused. */
  owner: string | null;
  /** Gitea: the repository name; local: unused. */
  name: string | null;
}

/** One file of a pull request's diff against its base. */
export interface FileChange {
  path: string;
  additions: number;
  deletions: number;
}

export interface PullRequestInfo {
  number: number;
  /** Where a person reads it (the forge's page, or the board's page for the local forge). */
  url: string;
  state: 'open' | 'merged' | 'closed';
  head: string;
  base: string;
  headSha: string;
  /** Whether it merges cleanly into base right now; null while the forge has not decided. */
  mergeable: boolean | null;
  filesChanged: number;
  additions: number;
  deletions: number;
  files: FileChange[];
}

export type MergeOutcome =
  /** `alreadyMerged`: a retry found the commit already in base (nothing was done again). */
  | { merged: true; mergeSha: string; alreadyMerged: boolean }
  /** Base is exactly as it was; `conflicts` lists the files that conflict. */
  | { merged: false; conflicts: string[] };

export interface Forge {
  /**
   * Makes sure the project's repository exists and has a `staging` branch (local: a bare
   * repository with an initial commit on `main` and `staging` branched from it). Idempotent.
   */
  ensureRepository(repo: RepoRef): Promise<{ cloneUrl: string }>;

  /**
   * The repository's clone URL, without credentials: it is stored, shown, and passed through
   * workflows. Agents get it with credentials from the API (`agentCloneUrl`).
   */
  cloneUrl(repo: RepoRef): Promise<string>;

  /** Environment for aiworker's own git processes that read `cloneUrl` (credentials, if any). */
  gitEnv(cloneUrl: string): Record<string, string>;

  /** Creates `branch` at the head of `from` unless it exists (then it is left as it is). */
  createBranch(
    repo: RepoRef,
    branch: string,
    from: string,
  ): Promise<{ created: boolean; sha: string }>;

  /** The commit a branch points at, or null when there is no such branch. */
  branchHead(repo: RepoRef, branch: string): Promise<string | null>;

  /** Commits on `head` that are not on `base`, oldest first (for PR descriptions). */
  commitsBetween(
    repo: RepoRef,
    base: string,
    head: string,
  ): Promise<Array<{ sha: string; subject: string }>>;

  /**
   * Opens a pull request from `head` into `base`, or returns the open one for `head` (and
   * updates its title and body). `taskId` is recorded where the forge can keep it.
   */
  openPullRequest(
    repo: RepoRef,
    pr: { head: string; base: string; title: string; body: string; taskId?: string },
  ): Promise<PullRequestInfo>;

  getPullRequest(repo: RepoRef, number: number): Promise<PullRequestInfo>;

  /**
   * Merges exactly `commit` (the PR head a person approved) into the PR's base. On a conflict,
   * base is left exactly as it was. Running it again after success reports `alreadyMerged`.
   */
  mergePullRequest(
    repo: RepoRef,
    pr: { number: number; commit: string; message: string },
  ): Promise<MergeOutcome>;

  /**
   * Moves `branch` back to `to`, only if it still points at `expected` (a rollback that cannot
   * undo someone else's later change). Idempotent: a branch already at `to` is left alone.
   */
  resetBranch(repo: RepoRef, branch: string, move: { to: string; expected: string }): Promise<void>;
}

/**
 * Thrown by a forge for a failure that retrying will not fix (unknown repository, a branch or
 * PR that cannot exist, a request the forge refuses as invalid, bad credentials). Its message
 * is shown to the agent and on the board, so it says what is wrong in the forge's words.
 */
export class ForgeRefusal extends Error {
  constructor(
    message: string,
    /** The forge's HTTP status, when it answered with one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ForgeRefusal';
  }
}

/** Thrown by a forge for a failure worth retrying (5xx, timeouts, connection refused). */
export class ForgeUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForgeUnavailable';
  }
}

/** The branch a task's work goes to (delivery: docs/architecture.md, "Agents, delivery and merges"). */
export function taskBranch(taskId: string): string {
  return `task-${taskId}-feature`;
}

/** The branch merged work goes to, and that the staging environment runs. */
export const STAGING_BRANCH = 'staging';

/** A project's repository as the forges address it. */
export function repoOf(project: {
  id: string;
  repository: { provider: 'local' | 'gitea'; owner: string | null; name: string | null };
}): RepoRef {
  return {
    projectId: project.id,
    provider: project.repository.provider,
    owner: project.repository.owner,
    name: project.repository.name,
  };
}
