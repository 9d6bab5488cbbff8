/**
 * Branch protections of the Gitea test server: `GET|POST /repos/{owner}/{repo}/branch_protections`
 * and `GET|DELETE .../branch_protections/{name}` with Gitea's `CreateBranchProtectionOption` and
 * `BranchProtection` shapes and the answers of routers/api/v1/repo/branch.go (400 without a rule
 * name, 403 "Branch protection already exist", 422 for an unknown user, 404 for no rule).
 *
 * Enforced as Gitea enforces it, in a pre-receive hook: a push to a protected branch by a user not
 * on its push allowlist is declined, as is a force push by a user not on its force-push
 * allowlist, and a protected branch cannot be deleted. Rules name one branch (no glob patterns).
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProtectionState, RepoState } from './gitea-server-git';
import type { GiteaContext, Reply } from './gitea-server-json';
import { apiError, field, notFound } from './gitea-server-json';

// Reads `old new ref` lines; each rule is a line `<branch> <pushers|*|-> <force-pushers|*|->`
// of protected-branches, where `*` is anyone with write access and `-` nobody.
const HOOK = `#!/bin/sh
rules="$GIT_DIR/protected-branches"
[ -f "$rules" ] || exit 0
zero=0000000000000000000000000000000000000000
status=0
while read old new ref; do
  case "$ref" in refs/heads/*) branch=\${ref#refs/heads/} ;; *) continue ;; esac
  rule=$(awk -v b="$branch" '$1 == b { print $2 " " $3 }' "$rules")
  [ -n "$rule" ] || continue
  pushers=\${rule%% *}
  forcers=\${rule#* }
  if [ "$new" = "$zero" ]; then
    echo "Gitea: branch $branch is protected from deletion" >&2; status=1; continue
  fi
  case "$pushers" in
    '*') ;;
    *) case ",$pushers," in *",$REMOTE_USER,"*) ;; *)
      echo "Gitea: Not allowed to push to protected branch $branch" >&2; status=1; continue ;;
    esac ;;
  esac
  if [ "$old" != "$zero" ] && ! git merge-base --is-ancestor "$old" "$new"; then
    case "$forcers" in
      '*') ;;
      *) case ",$forcers," in *",$REMOTE_USER,"*) ;; *)
        echo "Gitea: Not allowed to force-push to protected branch $branch" >&2; status=1 ;;
      esac ;;
    esac
  fi
done
exit $status
`;

/** Gitea's `BranchProtection`. */
export function protectionJson(rule: ProtectionState) {
  return {
    branch_name: rule.ruleName,
    rule_name: rule.ruleName,
    priority: 0,
    enable_push: rule.enablePush,
    enable_push_whitelist: rule.enablePushWhitelist,
    push_whitelist_usernames: rule.pushWhitelist,
    push_whitelist_teams: [],
    push_whitelist_deploy_keys: false,
    enable_force_push: rule.enableForcePush,
    enable_force_push_allowlist: rule.enableForcePushAllowlist,
    force_push_allowlist_usernames: rule.forcePushAllowlist,
    force_push_allowlist_teams: [],
    force_push_allowlist_deploy_keys: false,
    enable_merge_whitelist: false,
    merge_whitelist_usernames: [],
    merge_whitelist_teams: [],
    enable_status_check: false,
    status_check_contexts: [],
    required_approvals: 0,
    enable_approvals_whitelist: false,
    approvals_whitelist_username: [],
    approvals_whitelist_teams: [],
    block_on_rejected_reviews: false,
    block_on_official_review_requests: false,
    block_on_outdated_branch: false,
    dismiss_stale_approvals: false,
    ignore_stale_approvals: false,
    require_signed_commits: false,
    protected_file_patterns: '',
    unprotected_file_patterns: '',
    block_admin_merge_override: false,
    created_at: rule.createdAt,
    updated_at: rule.createdAt,
  };
}

function names(body: Record<string, unknown>, key: string): string[] {
  const value = body[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Writes the rules where the repository's pre-receive hook reads them. */
async function writeRules(repo: RepoState): Promise<void> {
  const list = (enabled: boolean, restricted: boolean, users: string[]) =>
    !enabled ? '-' : !restricted ? '*' : users.length ? users.join(',') : '-';
  const lines = [...repo.protections.values()].map(
    (r) =>
      `${r.ruleName} ${list(r.enablePush, r.enablePushWhitelist, r.pushWhitelist)} ${list(
        r.enablePush && r.enableForcePush,
        r.enableForcePushAllowlist,
        r.forcePushAllowlist,
      )}\n`,
  );
  await writeFile(join(repo.path, 'protected-branches'), lines.join(''));
  const hook = join(repo.path, 'hooks', 'pre-receive');
  await writeFile(hook, HOOK);
  await chmod(hook, 0o755);
}

/** Routes `.../branch_protections[/{name}]` of one repository. */
export async function routeProtections(
  ctx: GiteaContext,
  repo: RepoState,
  method: string,
  rest: string[],
  body: Record<string, unknown>,
  users: (name: string) => boolean,
): Promise<Reply> {
  if (rest.length === 0 && method === 'GET') {
    return { status: 200, body: [...repo.protections.values()].map(protectionJson) };
  }
  if (rest.length === 0 && method === 'POST') {
    const ruleName = field(body, 'rule_name') || field(body, 'branch_name');
    if (!ruleName) return apiError(ctx, 400, 'both rule_name and branch_name are empty');
    if (repo.protections.has(ruleName)) {
      return apiError(ctx, 403, 'Branch protection already exist');
    }
    const pushWhitelist = names(body, 'push_whitelist_usernames');
    const forcePushAllowlist = names(body, 'force_push_allowlist_usernames');
    const unknown = [...pushWhitelist, ...forcePushAllowlist].find((u) => !users(u));
    if (unknown) return apiError(ctx, 422, `user does not exist [uid: 0, name: ${unknown}]`);
    // As Gitea: each option counts only under the one it refines.
    const enablePush = body.enable_push === true;
    const enableForcePush = enablePush && body.enable_force_push === true;
    const rule: ProtectionState = {
      ruleName,
      enablePush,
      enablePushWhitelist: enablePush && body.enable_push_whitelist === true,
      pushWhitelist,
      enableForcePush,
      enableForcePushAllowlist: enableForcePush && body.enable_force_push_allowlist === true,
      forcePushAllowlist,
      createdAt: new Date().toISOString(),
    };
    repo.protections.set(ruleName, rule);
    await writeRules(repo);
    return { status: 201, body: protectionJson(rule) };
  }
  const name = rest.join('/');
  const rule = repo.protections.get(name);
  if (!rule) return notFound(ctx);
  if (method === 'GET') return { status: 200, body: protectionJson(rule) };
  if (method === 'DELETE') {
    repo.protections.delete(name);
    await writeRules(repo);
    return { status: 204 };
  }
  return notFound(ctx);
}
