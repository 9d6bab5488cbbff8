// A real OpenID provider (`oidc-provider`) for the sign-in tests, run as a process of its own:
// node test/servers/oidc-provider.mjs <port> <client id> <client secret> <redirect uri>
// Its development login page takes any login and password; the login is the account's email.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: ['aiworker-test-provider-key'] },
  // A login `subject|email` is a person whose subject differs from their email (as when the
  // provider gives an address to someone else); a plain login is both.
  findAccount: (_ctx, id) => {
    const email = id.includes('|') ? id.split('|')[1] : id;
    return {
      accountId: id,
      claims: () => ({ sub: id, email, email_verified: true, name: email.split('@')[0] }),
    };
  },
  features: { devInteractions: { enabled: true } },
});
provider.on('server_error', (_ctx, err) =>
  process.stderr.write(`provider error: ${err.message}\n`),
);
provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`provider listening ${issuer}\n`);
});
