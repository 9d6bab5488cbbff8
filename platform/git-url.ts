/**
 * Where a project's repository is cloned and pushed: the API's git gateway (`api/git/`), which
 * authenticates every request with the caller's own aiworker token and lets an agent push only
 * its task's branch. The forge's own URL (a `file://` path or Gitea) stays inside aiworker.
 *
 * The path names the project by its id: project names may contain any character (spaces,
 * slashes), ids are URL-safe UUIDs.
 */

/** The path prefix the gateway serves. */
export const GIT_GATEWAY_PREFIX = '/git';

/** `${publicUrl}/git/<projectId>.git`. */
export function projectGitUrl(publicUrl: string, projectId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${GIT_GATEWAY_PREFIX}/${encodeURIComponent(projectId)}.git`;
}
