/**
 * Pull requests of the Gitea test server: Gitea's `PullRequest` and `ChangedFile` shapes, the
 * list, create, edit, files and merge endpoints with the status codes and messages Gitea answers
 * (routers/api/v1/repo/pull.go), and real merges: a `--no-ff` merge commit written with git
 * plumbing and moved onto the base branch only if the base did not move meanwhile.
 */
import type { PullState, RepoState } from './gitea-server-git';
import { branchSha, diffFiles, git, mergeBaseOf, mergeTree } from './gitea-server-git';
import type { GiteaContext, Reply } from './gitea-server-json';
import { apiError, field, notFound, repoJson, userJson } from './gitea-server-json';

const now = () => new Date().toISOString();

function page(query: URLSearchParams): { limit: number; offset: number } {
  // Gitea's defaults: 30 a page unless asked, never more than 50.
  const limit = Math.min(Math.max(Number(query.get('limit')) || 30, 1), 50);
  const index = Math.max(Number(query.get('page')) || 1, 1);
  return { limit, offset: (index - 1) * limit };
}

/** The heads and diff of a PR: live branch heads while open, the merge-time ones after. */
async function pullState(repo: RepoState, pr: PullState) {
  const headSha = pr.merged ? pr.mergedHead : ((await branchSha(repo, pr.head)) ?? pr.lastHead);
  if (!pr.merged && headSha) pr.lastHead = headSha;
  const baseSha = await branchSha(repo, pr.base);
  const mergeBase =
    !pr.merged && headSha && baseSha ? await mergeBaseOf(repo, baseSha, headSha) : pr.mergeBase;
  const files = mergeBase && headSha ? await diffFiles(repo, mergeBase, headSha) : [];
  const open = !pr.merged && !pr.closed;
  const conflicts =
    open && headSha && baseSha ? (await mergeTree(repo, baseSha, headSha)).conflicts : [];
  return { headSha, baseSha, mergeBase, files, conflicts };
}

/** Gitea's `PullRequest`. */
export async function pullJson(ctx: GiteaContext, repo: RepoState, pr: PullState) {
  const { headSha, baseSha, mergeBase, files, conflicts } = await pullState(repo, pr);
  const htmlUrl = `${ctx.url}/${repo.owner}/${repo.name}/pulls/${pr.index}`;
  const repoInfo = await repoJson(ctx, repo);
  const branch = (ref: string, sha: string | null) => ({
    label: ref,
    ref,
    sha: sha ?? '',
    repo_id: repo.id,
    repo: repoInfo,
  });
  return {
    id: pr.id,
    url: htmlUrl,
    number: pr.index,
    user: userJson(ctx, ctx.username),
    title: pr.title,
    body: pr.body,
    labels: [],
    milestone: null,
    assignee: null,
    assignees: null,
    requested_reviewers: null,
    state: pr.closed ? 'closed' : 'open',
    draft: false,
    is_locked: false,
    comments: 0,
    review_comments: 0,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    changed_files: files.length,
    html_url: htmlUrl,
    diff_url: `${htmlUrl}.diff`,
    patch_url: `${htmlUrl}.patch`,
    // Gitea reports false both while its check runs and when it found a conflict.
    mergeable: pr.merged || (!pr.checking && conflicts.length === 0),
    merged: pr.merged,
    merged_at: pr.mergedAt,
    merge_commit_sha: pr.mergeSha,
    merged_by: pr.merged ? userJson(ctx, ctx.username) : null,
    allow_maintainer_edit: false,
    base: branch(pr.base, baseSha),
    head: branch(pr.head, headSha),
    merge_base: mergeBase ?? '',
    due_date: null,
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    closed_at: pr.closed ? pr.updatedAt : null,
    pin_order: 0,
  };
}

/** GET /repos/{owner}/{repo}/pulls: newest first, filtered by `state` (default open). */
export async function listPulls(
  ctx: GiteaContext,
  repo: RepoState,
  query: URLSearchParams,
): Promise<Reply> {
  const state = query.get('state') ?? 'open';
  const { limit, offset } = page(query);
  const matching = repo.pulls
    .filter((pr) => state === 'all' || (state === 'closed' ? pr.closed : !pr.closed))
    .sort((a, b) => b.index - a.index)
    .slice(offset, offset + limit);
  return { status: 200, body: await Promise.all(matching.map((pr) => pullJson(ctx, repo, pr))) };
}

/** POST /repos/{owner}/{repo}/pulls (`CreatePullRequestOption`): 201, 404, 409 or 422. */
export async function createPull(
  ctx: GiteaContext,
  repo: RepoState,
  body: Record<string, unknown>,
): Promise<Reply> {
  const head = field(body, 'head');
  const base = field(body, 'base');
  const title = field(body, 'title');
  if (!head || !base) return apiError(ctx, 422, `[${head ? 'Base' : 'Head'}]: Required`);
  if (!title) return apiError(ctx, 422, '[Title]: Required');
  if (head === base) {
    const message = 'Invalid PullRequest: There are no changes between the head and the base';
    return apiError(ctx, 422, message);
  }
  if (!(await branchSha(repo, head)) || !(await branchSha(repo, base))) return notFound(ctx);
  const existing = repo.pulls.find((pr) => !pr.closed && pr.head === head && pr.base === base);
  if (existing) {
    const detail = `id: ${existing.id}, issue_id: ${existing.index}, head_repo_id: ${repo.id}, base_repo_id: ${repo.id}, head_branch: ${head}, base_branch: ${base}`;
    return apiError(ctx, 409, `pull request already exists for these targets [${detail}]`);
  }
  const pr: PullState = {
    index: repo.pulls.length + 1,
    id: ctx.nextId(),
    title,
    body: field(body, 'body'),
    head,
    base,
    closed: false,
    merged: false,
    mergeSha: null,
    mergedAt: null,
    mergedHead: null,
    mergeBase: null,
    lastHead: null,
    checking: false,
    createdAt: now(),
    updatedAt: now(),
  };
  repo.pulls.push(pr);
  return { status: 201, body: await pullJson(ctx, repo, pr) };
}

/** PATCH /repos/{owner}/{repo}/pulls/{index} (`EditPullRequestOption`): Gitea answers 201. */
export async function editPull(
  ctx: GiteaContext,
  repo: RepoState,
  pr: PullState,
  body: Record<string, unknown>,
): Promise<Reply> {
  const base = field(body, 'base');
  if (base && base !== pr.base) {
    if (pr.merged) return apiError(ctx, 422, 'Cannot change base branch of a merged pull request');
    if (!(await branchSha(repo, base))) return apiError(ctx, 404, 'NewBaseBranchNotExist');
    pr.base = base;
  }
  if (field(body, 'title')) pr.title = field(body, 'title');
  if (typeof body.body === 'string') pr.body = body.body;
  if (!pr.merged && (body.state === 'closed' || body.state === 'open')) {
    pr.closed = body.state === 'closed';
  }
  pr.updatedAt = now();
  return { status: 201, body: await pullJson(ctx, repo, pr) };
}

/** GET /repos/{owner}/{repo}/pulls/{index}/files: `ChangedFile`s of merge base..head. */
export async function pullFiles(
  ctx: GiteaContext,
  repo: RepoState,
  pr: PullState,
  query: URLSearchParams,
): Promise<Reply> {
  const { headSha, files } = await pullState(repo, pr);
  const { limit, offset } = page(query);
  const at = `${repo.owner}/${repo.name}`;
  return {
    status: 200,
    body: files.slice(offset, offset + limit).map((f) => ({
      filename: f.path,
      status: 'changed',
      additions: f.additions,
      deletions: f.deletions,
      changes: f.additions + f.deletions,
      html_url: `${ctx.url}/${at}/src/commit/${headSha}/${f.path}`,
      contents_url: `${ctx.url}/api/v1/repos/${at}/contents/${f.path}?ref=${headSha}`,
      raw_url: `${ctx.url}/${at}/raw/commit/${headSha}/${f.path}`,
    })),
  };
}

/**
 * POST /repos/{owner}/{repo}/pulls/{index}/merge (`MergePullRequestOption`), in Gitea's order of
 * checks: already merged → 405 with an empty message; closed → 404; conflicting or still being
 * checked → 405 "Please try again later"; `head_commit_id` not the head → 409 "head out of
 * date"; base moved during the merge → 409 "merge push out of date"; merged → 200, no body.
 */
export async function mergePull(
  ctx: GiteaContext,
  repo: RepoState,
  pr: PullState,
  body: Record<string, unknown>,
): Promise<Reply> {
  if (pr.merged) return apiError(ctx, 405, '');
  if (pr.closed) return notFound(ctx);
  const style = field(body, 'Do');
  if (style !== 'merge') {
    return apiError(ctx, 405, `${style} is not allowed an allowed merge style for this repository`);
  }
  const baseSha = await branchSha(repo, pr.base);
  const headSha = await branchSha(repo, pr.head);
  if (!baseSha || !headSha) return apiError(ctx, 405, 'Please try again later');
  const merged = await mergeTree(repo, baseSha, headSha);
  if (pr.checking || merged.conflicts.length > 0) {
    return apiError(ctx, 405, 'Please try again later');
  }
  const expected = field(body, 'head_commit_id');
  if (expected && expected !== headSha) return apiError(ctx, 409, 'head out of date');
  const title =
    field(body, 'MergeTitleField').trim() ||
    `Merge pull request '${pr.title}' (#${pr.index}) from ${pr.head} into ${pr.base}`;
  const extra = field(body, 'MergeMessageField').trim();
  const message = extra ? `${title}\n\n${extra}` : title;
  const args = ['commit-tree', merged.tree, '-p', baseSha, '-p', headSha, '-m', message];
  const commit = (await git(repo.path, args)).stdout.trim();
  const moved = await git(repo.path, ['update-ref', `refs/heads/${pr.base}`, commit, baseSha], {
    ok: [128],
  });
  if (moved.code !== 0) return apiError(ctx, 409, 'merge push out of date');
  Object.assign(pr, {
    merged: true,
    closed: true,
    mergeSha: commit,
    mergedAt: now(),
    mergedHead: headSha,
    mergeBase: await mergeBaseOf(repo, baseSha, headSha),
    updatedAt: now(),
  });
  return { status: 200 };
}
