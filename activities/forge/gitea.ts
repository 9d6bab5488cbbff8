/**
 * The `gitea` forge: a project's repository on a Gitea server, through Gitea's REST API
 * (`gitea-js`) and, for what the API cannot do, git over HTTPS. One token of one Gitea account
 * does everything; it never goes into a clone URL this forge answers, nor an error message
 * (`gitea-auth.ts` says where it does go).
 */
import { z } from 'zod';
import type { Forge, RepoRef } from './forge';
import { ForgeRefusal } from './forge';
import { createGiteaClient } from './gitea-client';
import { createGiteaGit } from './gitea-git';
import { describePull, mergePull, openPull, readPull } from './gitea-pulls';
import {
  branchHead,
  createBranch,
  ensureRepository,
  getRepository,
  isStatus,
  missingBranch,
} from './gitea-repos';
import { giteaGitEnv } from './gitea-auth';
import type { GiteaTarget } from './gitea-repos';
import { checkBranch, checkSha, compareSchema, giteaTarget, pathPart } from './gitea-schemas';

/** How to reach the Gitea server. */
export interface GiteaForgeOptions {
  /** The server's root URL, e.g. `https://gitea.example.com` (without `/api/v1`). */
  baseUrl: string;
  /** An access token of `username` with the write:repository scope. */
  token: string;
  /** The account the token belongs to (put in clone URLs next to the token). */
  username: string;
  /** How long one API request may take (default 15000 ms). */
  timeoutMs?: number;
  /** How long one git command (fetch, push) may take (default 120000 ms). */
  gitTimeoutMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
}

const optionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/ }),
  token: z.string().min(1),
  username: z.string().min(1),
  timeoutMs: z.number().int().positive().default(15_000),
  gitTimeoutMs: z.number().int().positive().default(120_000),
  fetch: z.custom<typeof fetch>((value) => typeof value === 'function').optional(),
});

/** Creates the Gitea forge; refuses options that cannot work (no URL, no token). */
export function createGiteaForge(options: GiteaForgeOptions): Forge {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new ForgeRefusal(`the Gitea forge is misconfigured: check ${fields}`);
  }
  const { token, username, timeoutMs, gitTimeoutMs } = parsed.data;
  const baseUrl = parsed.data.baseUrl.replace(/\/+$/, '');
  const client = createGiteaClient({
    baseUrl,
    token,
    username,
    timeoutMs,
    fetch: parsed.data.fetch ?? fetch,
  });
  const git = createGiteaGit({ username, token, timeoutMs: gitTimeoutMs, redact: client.redact });
  const deps = { client, git };

  /** Runs one forge method: the target is checked first and every error leaves translated. */
  async function guarded<T>(repo: RepoRef, work: (t: GiteaTarget) => Promise<T>): Promise<T> {
    let full = `${repo.owner ?? '?'}/${repo.name ?? '?'}`;
    try {
      const t = giteaTarget(repo);
      full = t.full;
      return await work(t);
    } catch (err) {
      throw client.translate(err, full);
    }
  }

  return {
    ensureRepository: (repo) =>
      guarded(repo, async (t) => {
        const created = await ensureRepository(client, t);
        return { cloneUrl: created.clone_url };
      }),

    cloneUrl: (repo) =>
      guarded(repo, async (t) => {
        const found = await getRepository(client, t);
        return found.clone_url;
      }),

    gitEnv: (cloneUrl) => giteaGitEnv({ username, token }, cloneUrl),

    createBranch: (repo, branch, from) =>
      guarded(repo, (t) => createBranch(client, t, checkBranch(branch), checkBranch(from))),

    branchHead: (repo, branch) => guarded(repo, (t) => branchHead(client, t, checkBranch(branch))),

    commitsBetween: (repo, base, head) =>
      guarded(repo, async (t) => {
        const spec = `${pathPart(checkBranch(base))}...${pathPart(checkBranch(head))}`;
        try {
          const compared = await client.request(
            `comparing ${base} with ${head} in ${t.full}`,
            () => client.api.repos.repoCompareDiff(pathPart(t.owner), pathPart(t.name), spec),
            compareSchema,
          );
          // Gitea lists them as `git log` does, newest first.
          return (compared.commits ?? [])
            .map((c) => ({ sha: c.sha, subject: c.commit.message.split('\n')[0] ?? '' }))
            .reverse();
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
          const missing = await missingBranch(client, t, [base, head]);
          if (missing) throw missing;
          throw new ForgeRefusal(
            `Gitea could not compare ${base} with ${head} in ${t.full} (HTTP 404) although both branches exist; its compare API needs Gitea 1.22 or later`,
            404,
          );
        }
      }),

    openPullRequest: (repo, pr) =>
      guarded(repo, (t) =>
        openPull(deps, t, { ...pr, head: checkBranch(pr.head), base: checkBranch(pr.base) }),
      ),

    getPullRequest: (repo, number) =>
      guarded(repo, async (t) => await describePull(deps, t, await readPull(client, t, number))),

    mergePullRequest: (repo, pr) =>
      guarded(repo, (t) =>
        mergePull(deps, t, { ...pr, commit: checkSha(pr.commit, 'the commit to merge') }),
      ),

    resetBranch: (repo, branch, move) =>
      guarded(repo, async (t) => {
        checkBranch(branch);
        const to = checkSha(move.to, 'the commit to move back to');
        const expected = checkSha(move.expected, 'the expected branch head');
        const head = await branchHead(client, t, branch);
        if (head === null) {
          throw new ForgeRefusal(`branch ${branch} does not exist in ${t.full}`, 404);
        }
        if (head === to) return;
        const changed = (now: string) =>
          new ForgeRefusal(
            `branch ${branch} of ${t.full} is at ${now}, not at ${expected} as expected: it changed since, so it was not moved back to ${to}`,
            409,
          );
        if (head !== expected) throw changed(head);
        const { clone_url } = await getRepository(client, t);
        if ((await git.moveBranch(clone_url, branch, { to, expected })) === 'moved') return;
        const now = await branchHead(client, t, branch);
        if (now !== to) throw changed(now ?? '(deleted)');
      }),
  };
}
