/**
 * How git authenticates to Gitea with the forge's token. aiworker's own git processes (merges,
 * rollbacks, preview checkouts) get it as an HTTP header through the environment, scoped to the
 * repository's origin: never on a command line, in a URL or in a checkout's `.git/config`, where
 * a preview's own code could read it. Agents never get it: they clone and push through the API's
 * git gateway (`api/git/`) with their own tokens, and the gateway relays to Gitea as this account.
 */

/** The Gitea account aiworker acts as. */
export interface GiteaAccount {
  username: string;
  token: string;
}

/** Environment variables that make git send the token to `cloneUrl`'s origin, and only there. */
export function giteaGitEnv(account: GiteaAccount, cloneUrl: string): Record<string, string> {
  const basic = Buffer.from(`${account.username}:${account.token}`).toString('base64');
  return {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: `http.${new URL(cloneUrl).origin}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    // Credential helpers of the machine must not answer for (or store) this token.
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: '',
  };
}
