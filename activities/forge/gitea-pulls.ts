/**
 * Pull requests on Gitea: open (or reuse) one per head branch, read it with its diff summary,
 * and merge exactly the approved commit. Gitea's `mergeable` is false both while its background
 * check runs and when the PR conflicts, and its API never names the conflicting files, so when
 * it says "not mergeable" the forge asks git (a real three-way merge of the two branches).
 */
import { z } from 'zod';
import type { MergeOutcome, PullRequestInfo } from './forge';
import { ForgeRefusal, ForgeUnavailable } from './forge';
import type { GiteaClient } from './gitea-client';
import type { GiteaGit } from './gitea-git';
import type { GiteaTarget } from './gitea-repos';
import { getRepository, isStatus, missingBranch } from './gitea-repos';
import type { GiteaPull } from './gitea-schemas';
import { anyBody, changedFileSchema, pathPart, pullSchema } from './gitea-schemas';

/** What the pull request functions need. */
export interface GiteaPullDeps {
  client: GiteaClient;
  git: GiteaGit;
}

// Gitea's default largest page (MAX_RESPONSE_ITEMS). A server may cap pages lower, so a short
// page does not mean the last one: listing goes on until a page comes back empty.
const PAGE = 50;
const MAX_PAGES = 20;

/** GET /repos/{owner}/{repo}/pulls/{index}; refuses a PR (or repository) Gitea does not have. */
export async function readPull(
  client: GiteaClient,
  t: GiteaTarget,
  index: number,
): Promise<GiteaPull> {
  try {
    return await client.request(
      `reading pull request #${index} of ${t.full}`,
      () => client.api.repos.repoGetPullRequest(pathPart(t.owner), pathPart(t.name), index),
      pullSchema,
    );
  } catch (err) {
    if (!isStatus(err, 404)) throw err;
    await getRepository(client, t);
    throw new ForgeRefusal(`pull request #${index} not found in ${t.full}`, 404);
  }
}

/** The open PR whose head is `head` in this repository, from GET /repos/{owner}/{repo}/pulls. */
async function findOpenPull(
  client: GiteaClient,
  t: GiteaTarget,
  head: string,
): Promise<GiteaPull | null> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    const pulls = await client.request(
      `listing open pull requests of ${t.full}`,
      () =>
        client.api.repos.repoListPullRequests(pathPart(t.owner), pathPart(t.name), {
          state: 'open',
          page,
          limit: PAGE,
        }),
      z.array(pullSchema),
    );
    const found = pulls.find((p) => p.head.ref === head && p.head.repo_id === p.base.repo_id);
    if (found) return found;
    if (pulls.length === 0) return null;
  }
  return null;
}

/** GET /repos/{owner}/{repo}/pulls/{index}/files, every page. */
async function listFiles(client: GiteaClient, t: GiteaTarget, index: number, total: number | null) {
  const files: Array<z.infer<typeof changedFileSchema>> = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const batch = await client.request(
      `listing the files of pull request #${index} of ${t.full}`,
      () =>
        client.api.repos.repoGetPullRequestFiles(pathPart(t.owner), pathPart(t.name), index, {
          page,
          limit: PAGE,
        }),
      z.array(changedFileSchema),
    );
    files.push(...batch);
    if (batch.length === 0 || (total !== null && files.length >= total)) break;
  }
  return files;
}

/** The files that conflict when `commit` is merged into the PR's base, by git ([] if none). */
async function conflictsByGit(deps: GiteaPullDeps, t: GiteaTarget, pr: GiteaPull, commit: string) {
  const repo = await getRepository(deps.client, t);
  return await deps.git.conflicts(repo.clone_url, pr.base.ref, pr.head.ref, commit);
}

/** A Gitea PR as the forge describes it, with its files. */
export async function describePull(
  deps: GiteaPullDeps,
  t: GiteaTarget,
  pr: GiteaPull,
): Promise<PullRequestInfo> {
  const files = (await listFiles(deps.client, t, pr.number, pr.changed_files ?? null)).map((f) => ({
    path: f.filename,
    additions: f.additions ?? 0,
    deletions: f.deletions ?? 0,
  }));
  const state = pr.merged ? 'merged' : pr.state;
  let mergeable: boolean | null = null;
  if (state === 'open' && pr.mergeable) mergeable = true;
  else if (state === 'open') {
    // Gitea's false is "conflicts" or "still checking"; git tells which. Unknown stays null.
    const conflicts = await conflictsByGit(deps, t, pr, pr.head.sha).catch(() => []);
    mergeable = conflicts.length > 0 ? false : null;
  }
  return {
    number: pr.number,
    url: pr.html_url,
    state,
    head: pr.head.ref,
    base: pr.base.ref,
    headSha: pr.head.sha,
    mergeable,
    filesChanged: pr.changed_files ?? files.length,
    additions: pr.additions ?? files.reduce((n, f) => n + f.additions, 0),
    deletions: pr.deletions ?? files.reduce((n, f) => n + f.deletions, 0),
    files,
  };
}

/** The body with the task recorded in a comment Gitea does not render. */
function withTask(body: string, taskId: string | undefined): string {
  if (!taskId) return body;
  const marker = `<!-- aiworker-task: ${taskId} -->`;
  return body.includes(marker) ? body : `${body.trimEnd()}\n\n${marker}\n`;
}

/**
 * Reuses the open PR of `head` (PATCH to update title, body and, if asked, base) or creates one
 * (POST; 409 when one appeared meanwhile, then it is reused).
 */
export async function openPull(
  deps: GiteaPullDeps,
  t: GiteaTarget,
  want: { head: string; base: string; title: string; body: string; taskId?: string },
): Promise<PullRequestInfo> {
  const { client } = deps;
  const body = withTask(want.body, want.taskId);
  const update = async (pr: GiteaPull) => {
    const edit = {
      title: want.title,
      body,
      ...(pr.base.ref === want.base ? {} : { base: want.base }),
    };
    try {
      const edited = await client.request(
        `updating pull request #${pr.number} of ${t.full}`,
        () =>
          client.api.repos.repoEditPullRequest(
            pathPart(t.owner),
            pathPart(t.name),
            pr.number,
            edit,
          ),
        pullSchema,
      );
      return await describePull(deps, t, edited);
    } catch (err) {
      // 404: the new base does not exist.
      if (!isStatus(err, 404)) throw err;
      throw (await missingBranch(client, t, [want.base])) ?? err;
    }
  };
  const existing = await findOpenPull(client, t, want.head);
  if (existing) return await update(existing);
  try {
    const created = await client.request(
      `opening a pull request from ${want.head} into ${want.base} in ${t.full}`,
      () =>
        client.api.repos.repoCreatePullRequest(pathPart(t.owner), pathPart(t.name), {
          head: want.head,
          base: want.base,
          title: want.title,
          body,
        }),
      pullSchema,
    );
    return await describePull(deps, t, created);
  } catch (err) {
    if (isStatus(err, 409)) {
      const raced = await findOpenPull(client, t, want.head);
      if (raced) return await update(raced);
    }
    if (!isStatus(err, 404)) throw err;
    const advice = ': push it before opening a pull request';
    throw (await missingBranch(client, t, [want.head, want.base], advice)) ?? err;
  }
}

function headMoved(index: number, now: string, approved: string): ForgeRefusal {
  return new ForgeRefusal(
    `the head of pull request #${index} moved to ${now} after ${approved} was approved; it was not merged. Review and approve the new head first.`,
    409,
  );
}

/**
 * POST /repos/{owner}/{repo}/pulls/{index}/merge with `Do: "merge"` and `head_commit_id` set to
 * the approved commit, so Gitea refuses (409 "head out of date") rather than merge a later push.
 * Gitea answers 405 for an already merged PR and for one it will not merge now (conflicts, or
 * its check still running); the PR is read again to tell which.
 */
export async function mergePull(
  deps: GiteaPullDeps,
  t: GiteaTarget,
  want: { number: number; commit: string; message: string },
): Promise<MergeOutcome> {
  const { client } = deps;
  const before = await readPull(client, t, want.number);
  const merged = (pr: GiteaPull, alreadyMerged: boolean): MergeOutcome => ({
    merged: true,
    mergeSha: pr.merge_commit_sha ?? '',
    alreadyMerged,
  });
  if (before.merged) return merged(before, true);
  if (before.state === 'closed') {
    throw new ForgeRefusal(
      `pull request #${want.number} of ${t.full} was closed without being merged`,
    );
  }
  if (before.head.sha !== want.commit) throw headMoved(want.number, before.head.sha, want.commit);
  const [title = '', ...rest] = want.message.split('\n');
  const option = {
    Do: 'merge' as const,
    head_commit_id: want.commit,
    MergeTitleField: title.trim(),
    MergeMessageField: rest.join('\n').trim(),
  };
  try {
    await client.request(
      `merging pull request #${want.number} of ${t.full}`,
      () =>
        client.api.repos.repoMergePullRequest(
          pathPart(t.owner),
          pathPart(t.name),
          want.number,
          option,
        ),
      anyBody,
    );
    return merged(await readPull(client, t, want.number), false);
  } catch (err) {
    if (!isStatus(err, 405) && !isStatus(err, 409) && !isStatus(err, 404)) throw err;
    const after = await readPull(client, t, want.number);
    // A retry after a merge whose answer was lost, or someone merging at the same moment.
    if (after.merged) return merged(after, true);
    if (after.state === 'closed') {
      throw new ForgeRefusal(
        `pull request #${want.number} of ${t.full} was closed without being merged`,
      );
    }
    if (after.head.sha !== want.commit || /head out of date/i.test(err.giteaMessage)) {
      throw headMoved(want.number, after.head.sha, want.commit);
    }
    if (/merge push out of date/i.test(err.giteaMessage)) {
      throw new ForgeUnavailable(
        `the base branch ${after.base.ref} of ${t.full} moved while Gitea was merging pull request #${want.number}; nothing was merged. Try again.`,
      );
    }
    const notNow = err.status === 409 || /try again later/i.test(err.giteaMessage);
    if (!notNow) throw err;
    const conflicts = await conflictsByGit(deps, t, after, want.commit);
    if (conflicts.length > 0) return { merged: false, conflicts };
    throw new ForgeUnavailable(
      `Gitea has not finished checking whether pull request #${want.number} of ${t.full} can be merged; nothing was merged. Try again shortly.`,
    );
  }
}
