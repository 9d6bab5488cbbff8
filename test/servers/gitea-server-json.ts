/**
 * The JSON shapes of the Gitea test server, as Gitea's OpenAPI document defines them
 * (`APIError`, `User`, `Repository`, `Branch`, `Commit`), built from the real repositories.
 */
import type { LoggedCommit, RepoState } from './gitea-server-git';
import { git } from './gitea-server-git';

/** What the server is, for the URLs inside its answers. */
export interface GiteaContext {
  /** `http://127.0.0.1:<port>`, known once it listens. */
  url: string;
  /** The one user, whom every token belongs to. */
  username: string;
  /** Where the bare repositories live. */
  root: string;
  /** Ids of repositories and pull requests. */
  nextId(): number;
}

/** A route's answer; no body means an empty one (e.g. 200 on merge). */
export interface Reply {
  status: number;
  body?: unknown;
}

/** Gitea's error body: `{message, url}` where `url` points at its API docs. */
export function apiError(ctx: GiteaContext, status: number, message: string): Reply {
  return { status, body: { message, url: `${ctx.url}/api/swagger` } };
}

/** Gitea's generic 404 body, the same for a missing repository, branch or pull request. */
export function notFound(ctx: GiteaContext, ...errors: string[]): Reply {
  const body = { errors, message: "The target couldn't be found.", url: `${ctx.url}/api/swagger` };
  return { status: 404, body };
}

/** Gitea's `User`. */
export function userJson(ctx: GiteaContext, login: string) {
  return {
    id: login === ctx.username ? 1 : 2,
    login,
    username: login,
    full_name: login,
    email: `${login}@localhost`,
    avatar_url: `${ctx.url}/avatars/${login}`,
  };
}

/** Gitea's `Repository`; `empty` while it has no branch. */
export async function repoJson(ctx: GiteaContext, repo: RepoState) {
  const { code } = await git(repo.path, ['show-ref', '--quiet', '--heads'], { ok: [1] });
  const fullName = `${repo.owner}/${repo.name}`;
  return {
    id: repo.id,
    owner: userJson(ctx, repo.owner),
    name: repo.name,
    full_name: fullName,
    description: '',
    empty: code !== 0,
    private: repo.isPrivate,
    fork: false,
    mirror: false,
    archived: false,
    html_url: `${ctx.url}/${fullName}`,
    clone_url: `${ctx.url}/${fullName}.git`,
    ssh_url: `git@127.0.0.1:${fullName}.git`,
    default_branch: repo.defaultBranch,
    has_pull_requests: true,
    has_actions: repo.hasActions,
    permissions: { admin: true, push: true, pull: true },
  };
}

/** Gitea's `Branch`, with its head commit as a `PayloadCommit`. */
export async function branchJson(ctx: GiteaContext, repo: RepoState, name: string, sha: string) {
  const { stdout } = await git(repo.path, ['log', '-1', '--format=%cI%x00%B', sha]);
  const [timestamp = '', message = ''] = stdout.split('\x00');
  return {
    name,
    commit: {
      id: sha,
      message,
      url: `${ctx.url}/${repo.owner}/${repo.name}/commit/${sha}`,
      timestamp,
    },
    protected: repo.protections.has(name),
    required_approvals: 0,
    enable_status_check: false,
    status_check_contexts: [],
    user_can_push: true,
    user_can_merge: true,
    effective_branch_protection_name: repo.protections.has(name) ? name : '',
  };
}

/** Gitea's `Commit`, as the compare endpoint lists it. */
export function commitJson(ctx: GiteaContext, repo: RepoState, c: LoggedCommit) {
  const apiBase = `${ctx.url}/api/v1/repos/${repo.owner}/${repo.name}/git`;
  return {
    sha: c.sha,
    url: `${apiBase}/commits/${c.sha}`,
    html_url: `${ctx.url}/${repo.owner}/${repo.name}/commit/${c.sha}`,
    created: c.committer.date,
    commit: {
      url: `${apiBase}/commits/${c.sha}`,
      message: c.message,
      author: c.author,
      committer: c.committer,
      tree: { sha: c.tree, url: `${apiBase}/trees/${c.tree}` },
    },
    author: null,
    committer: null,
    parents: c.parents.map((sha) => ({ sha, url: `${apiBase}/commits/${sha}` })),
  };
}

/** Reads a string field of a request body ('' when absent or not a string). */
export function field(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : '';
}
