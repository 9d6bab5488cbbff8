/**
 * Repositories and branches on Gitea: reading them, creating a repository (with a first commit
 * and the `staging` branch) and creating branches, each idempotent so an activity can retry.
 */
import type { z } from 'zod';
import { STAGING_BRANCH, ForgeRefusal } from './forge';
import type { GiteaClient } from './gitea-client';
import { GiteaHttpError } from './gitea-client';
import type { giteaTarget } from './gitea-schemas';
import { anyBody, branchSchema, pathPart, repositorySchema } from './gitea-schemas';

/** A repository on Gitea, as the forge methods address it. */
export type GiteaTarget = ReturnType<typeof giteaTarget>;

/** The fields of Gitea's `Repository` the forge uses. */
export type GiteaRepository = z.infer<typeof repositorySchema>;

/** Whether `err` is Gitea answering `status`. */
export function isStatus(err: unknown, status: number): err is GiteaHttpError {
  return err instanceof GiteaHttpError && err.status === status;
}

/** GET /repos/{owner}/{repo}, or null when Gitea has no such repository. */
export async function findRepository(
  client: GiteaClient,
  t: GiteaTarget,
): Promise<GiteaRepository | null> {
  try {
    return await client.request(
      `reading repository ${t.full}`,
      () => client.api.repos.repoGet(pathPart(t.owner), pathPart(t.name)),
      repositorySchema,
    );
  } catch (err) {
    if (isStatus(err, 404)) return null;
    throw err;
  }
}

/** GET /repos/{owner}/{repo}; refuses when Gitea has no such repository. */
export async function getRepository(client: GiteaClient, t: GiteaTarget): Promise<GiteaRepository> {
  const repo = await findRepository(client, t);
  if (!repo) {
    throw new ForgeRefusal(
      `repository ${t.full} not found on Gitea (or "${client.username}" cannot see it)`,
      404,
    );
  }
  return repo;
}

/**
 * GET /repos/{owner}/{repo}/branches/{branch}: its head, or null when there is no such branch.
 * Gitea answers 404 for a missing repository too, so a 404 is checked against the repository.
 */
export async function branchHead(
  client: GiteaClient,
  t: GiteaTarget,
  branch: string,
): Promise<string | null> {
  try {
    const found = await client.request(
      `reading branch ${branch} of ${t.full}`,
      () => client.api.repos.repoGetBranch(pathPart(t.owner), pathPart(t.name), pathPart(branch)),
      branchSchema,
    );
    return found.commit.id;
  } catch (err) {
    if (!isStatus(err, 404)) throw err;
    await getRepository(client, t);
    return null;
  }
}

/** A refusal naming the first of `branches` missing from the repository, or null if none is. */
export async function missingBranch(
  client: GiteaClient,
  t: GiteaTarget,
  branches: string[],
  advice = '',
): Promise<ForgeRefusal | null> {
  for (const branch of branches) {
    if (!(await branchHead(client, t, branch))) {
      return new ForgeRefusal(`branch ${branch} does not exist in ${t.full}${advice}`, 404);
    }
  }
  return null;
}

/**
 * POST /repos/{owner}/{repo}/branches (`CreateBranchRepoOption`). Gitea answers 409 when the
 * branch exists (then it is reused as it is) and 404 when the branch to start from does not.
 */
export async function createBranch(
  client: GiteaClient,
  t: GiteaTarget,
  branch: string,
  from: string,
): Promise<{ created: boolean; sha: string }> {
  const action = `creating branch ${branch} from ${from} in ${t.full}`;
  try {
    // old_branch_name rather than old_ref_name: Gitea answers a missing old_ref_name with a 500.
    const body = { new_branch_name: branch, old_branch_name: from };
    const created = await client.request(
      action,
      () => client.api.repos.repoCreateBranch(pathPart(t.owner), pathPart(t.name), body),
      branchSchema,
    );
    return { created: true, sha: created.commit.id };
  } catch (err) {
    if (isStatus(err, 409)) {
      const sha = await branchHead(client, t, branch);
      if (sha) return { created: false, sha };
      throw err;
    }
    if (!isStatus(err, 404)) throw err;
    const repo = await getRepository(client, t);
    if (repo.empty) throw emptyRepository(t, repo);
    throw new ForgeRefusal(
      `branch ${from} does not exist in ${t.full}, so ${branch} cannot be created from it`,
      404,
    );
  }
}

function emptyRepository(t: GiteaTarget, repo: GiteaRepository): ForgeRefusal {
  return new ForgeRefusal(
    `repository ${t.full} exists on Gitea but has no commits: push a first commit to its default branch "${repo.default_branch}", then try again`,
  );
}

/**
 * Creates the repository under the owner: POST /orgs/{org}/repos when the owner is an
 * organisation, POST /user/repos when it is the token's own user. `auto_init` gives it a first
 * commit (a README) so branches can be made from it. A 409 means someone created it meanwhile.
 */
async function createRepository(client: GiteaClient, t: GiteaTarget): Promise<GiteaRepository> {
  const body = {
    name: t.name,
    auto_init: true,
    readme: 'Default',
    default_branch: 'main',
    private: true,
  };
  const action = `creating repository ${t.full}`;
  const ownRepo = t.owner.toLowerCase() === client.username.toLowerCase();
  let isOrg = false;
  if (!ownRepo) {
    try {
      await client.request(
        `reading organisation ${t.owner}`,
        () => client.api.orgs.orgGet(pathPart(t.owner)),
        anyBody,
      );
      isOrg = true;
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      throw new ForgeRefusal(
        `cannot create repository ${t.full}: "${t.owner}" is not an organisation on Gitea and the token belongs to "${client.username}", who can only create repositories of its own or of an organisation`,
        404,
      );
    }
  }
  try {
    return await client.request(
      action,
      () =>
        isOrg
          ? client.api.orgs.createOrgRepo(pathPart(t.owner), body)
          : client.api.user.createCurrentUserRepo(body),
      repositorySchema,
    );
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    return await getRepository(client, t);
  }
}

/**
 * Turns the repository's Actions unit off (PATCH /repos/{owner}/{repo}, `EditRepoOption`) unless
 * it is off already: agents push branches here, and where the Gitea instance runs Actions, a
 * workflow file on an agent's branch would run on the instance's runners, with the repository's
 * secrets, outside the previews' sandbox. Editing needs admin rights on the repository, as
 * protecting staging does.
 */
async function turnOffActions(
  client: GiteaClient,
  t: GiteaTarget,
  repo: GiteaRepository,
): Promise<void> {
  if (repo.has_actions === false) return;
  let edited: GiteaRepository;
  try {
    edited = await client.request(
      `turning off Actions of ${t.full}`,
      () => client.api.repos.repoEdit(pathPart(t.owner), pathPart(t.name), { has_actions: false }),
      repositorySchema,
    );
  } catch (err) {
    if (!isStatus(err, 403)) throw err;
    throw new ForgeRefusal(
      `Gitea does not let "${client.username}" turn off Actions of ${t.full} (HTTP 403${err.giteaMessage ? `: ${err.giteaMessage}` : ''}): give the account admin rights on the repository, or turn its Actions off there yourself, so that workflow files agents push do not run on your runners`,
      403,
    );
  }
  // A Gitea that shows the unit and kept it on did not take the change: say so rather than
  // leave agents' workflow files running. (One whose API does not show the unit, before 1.20,
  // cannot be told: docs/operations.md, "Git gateway".)
  if (edited.has_actions === true) {
    throw new ForgeRefusal(
      `Gitea kept Actions on for ${t.full}: turn them off in the repository's settings, so that workflow files agents push do not run on your runners`,
      409,
    );
  }
}

/**
 * The rule that keeps `staging` for aiworker's own account (`CreateBranchProtectionOption`):
 * only it may push (merges, and the force-with-lease push a rollback makes), nobody may force
 * push otherwise, and protected branches cannot be deleted. Agents reach Gitea only through the
 * API's git gateway, as this account; the rule guards staging against every other route.
 */
function stagingProtection(account: string) {
  return {
    rule_name: STAGING_BRANCH,
    enable_push: true,
    enable_push_whitelist: true,
    push_whitelist_usernames: [account],
    enable_force_push: true,
    enable_force_push_allowlist: true,
    force_push_allowlist_usernames: [account],
  };
}

/**
 * Protects `staging` with Gitea's branch protection unless a rule for it exists already (then an
 * operator's rule is left as it is). Creating a rule needs admin rights on the repository, which
 * the account has on repositories it created.
 */
export async function protectStaging(client: GiteaClient, t: GiteaTarget): Promise<void> {
  const action = `protecting branch ${STAGING_BRANCH} of ${t.full}`;
  try {
    await client.request(
      `reading the protection of ${STAGING_BRANCH} in ${t.full}`,
      () =>
        client.api.repos.repoGetBranchProtection(
          pathPart(t.owner),
          pathPart(t.name),
          pathPart(STAGING_BRANCH),
        ),
      anyBody,
    );
    return;
  } catch (err) {
    if (!isStatus(err, 404)) throw protectionRefused(err, client, t);
  }
  try {
    await client.request(
      action,
      () =>
        client.api.repos.repoCreateBranchProtection(
          pathPart(t.owner),
          pathPart(t.name),
          stagingProtection(client.username),
        ),
      anyBody,
    );
  } catch (err) {
    // Created meanwhile (a retry, or a concurrent set-up): Gitea answers 403 "already exist".
    if (isStatus(err, 403) && /already exist/i.test(err.giteaMessage)) return;
    throw protectionRefused(err, client, t);
  }
}

/** Says what the operator can do when Gitea will not let the account protect staging. */
function protectionRefused(err: unknown, client: GiteaClient, t: GiteaTarget): unknown {
  if (!isStatus(err, 403)) return err;
  return new ForgeRefusal(
    `Gitea does not let "${client.username}" protect ${STAGING_BRANCH} of ${t.full} (HTTP 403${err.giteaMessage ? `: ${err.giteaMessage}` : ''}): give the account admin rights on the repository, or protect ${STAGING_BRANCH} there yourself so that only that account may push`,
    403,
  );
}

/**
 * Makes sure the repository exists, has a first commit and a `staging` branch, that `staging` is
 * protected, and that the repository's Actions are off.
 */
export async function ensureRepository(
  client: GiteaClient,
  t: GiteaTarget,
): Promise<GiteaRepository> {
  const repo = (await findRepository(client, t)) ?? (await createRepository(client, t));
  if (repo.empty) throw emptyRepository(t, repo);
  // Before anything is pushed to it from here: a workflow could run on staging's creation.
  await turnOffActions(client, t, repo);
  if (!(await branchHead(client, t, STAGING_BRANCH))) {
    await createBranch(client, t, STAGING_BRANCH, repo.default_branch);
  }
  await protectStaging(client, t);
  return repo;
}
