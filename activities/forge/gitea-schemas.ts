/**
 * What the Gitea forge reads from Gitea's answers (the fields it relies on, as Gitea's OpenAPI
 * document names them; the rest passes through unchecked) and what it accepts from its callers.
 */
import { z } from 'zod';
import type { RepoRef } from './forge';
import { ForgeRefusal } from './forge';

/** `Repository`. */
export const repositorySchema = z.object({
  full_name: z.string(),
  clone_url: z.url(),
  default_branch: z.string().min(1),
  empty: z.boolean().optional(),
  /** Whether the Actions unit is on; absent where Gitea's API does not show it (before 1.20). */
  has_actions: z.boolean().optional(),
});

/** `Branch`: its head is `commit.id`. */
export const branchSchema = z.object({
  name: z.string(),
  commit: z.object({ id: z.string().min(1) }),
});

/** `Compare`: `commits` newest first, as `git log` lists them. */
export const compareSchema = z.object({
  commits: z
    .array(z.object({ sha: z.string(), commit: z.object({ message: z.string() }) }))
    .nullish(),
});

const prBranchSchema = z.object({
  ref: z.string(),
  sha: z.string(),
  repo_id: z.number().optional(),
});

/** `PullRequest`. `additions`, `deletions` and `changed_files` exist since Gitea 1.17. */
export const pullSchema = z.object({
  number: z.number().int(),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  merged: z.boolean().nullish(),
  merge_commit_sha: z.string().nullish(),
  mergeable: z.boolean().nullish(),
  head: prBranchSchema,
  base: prBranchSchema,
  additions: z.number().nullish(),
  deletions: z.number().nullish(),
  changed_files: z.number().nullish(),
});

/** A `PullRequest` as the forge reads it. */
export type GiteaPull = z.infer<typeof pullSchema>;

/** `ChangedFile`, one file of a PR's diff. */
export const changedFileSchema = z.object({
  filename: z.string(),
  additions: z.number().nullish(),
  deletions: z.number().nullish(),
});

/** Any answer whose body the forge does not read (e.g. the empty 200 of a merge). */
export const anyBody = z.unknown();

// Gitea's owner and repository names: letters, digits, '-', '_' and '.'.
const NAME = /^[A-Za-z0-9_.-]+$/;
// git's rules for a branch name (check-ref-format), minus what no caller needs.
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock(?:\/|$))[\w./+=,#@-]+(?<![/.])$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The repository a `RepoRef` names on Gitea; refuses refs that name none. */
export function giteaTarget(repo: RepoRef): { owner: string; name: string; full: string } {
  if (repo.provider !== 'gitea') {
    throw new ForgeRefusal(
      `project ${repo.projectId} keeps its repository on the ${repo.provider} forge, not on Gitea`,
    );
  }
  const { owner, name } = repo;
  if (!owner || !name) {
    const missing = [!owner && 'owner', !name && 'name'].filter(Boolean).join(' and ');
    throw new ForgeRefusal(
      `project ${repo.projectId} has no Gitea repository ${missing}: both owner and name are required for a Gitea repository`,
    );
  }
  for (const [what, value] of [
    ['owner', owner],
    ['name', name],
  ] as const) {
    if (!NAME.test(value) || value === '.' || value === '..') {
      throw new ForgeRefusal(
        `"${value}" is not a valid Gitea repository ${what}: use letters, digits, "-", "_" and "."`,
      );
    }
  }
  return { owner, name, full: `${owner}/${name}` };
}

/** Refuses a branch name git would refuse (or that could pass for an option). */
export function checkBranch(branch: string): string {
  if (!BRANCH.test(branch) || branch.length > 255) {
    throw new ForgeRefusal(`"${branch}" is not a valid branch name`);
  }
  return branch;
}

/** Refuses anything but a full commit id. */
export function checkSha(sha: string, what: string): string {
  if (!SHA.test(sha)) {
    throw new ForgeRefusal(`${what} must be a full commit id (40 hex digits), not "${sha}"`);
  }
  return sha;
}

/** A path segment for Gitea's routes; branch names keep their slashes, as Gitea routes them. */
export function pathPart(value: string): string {
  return value.split('/').map(encodeURIComponent).join('/');
}
