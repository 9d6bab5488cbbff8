import { Router } from 'express';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { loginBody } from '../../contracts/user';
import type { UserChange } from '../../contracts/user';
import { findOidcAccount, findOidcSubjectHolder, findSignInAccount } from '../../db/users';
import type { SignInAccount } from '../../db/users';
import type { ApiDeps } from '../deps';
import { ApiError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { refuseSessionAtPreviewHost, tokenHash } from '../middleware/auth';
import { clientAddress } from '../middleware/limits';
import { changeUserAccount } from './people';
import { cookieHeader, sessionCookie } from './sessions';

/** The OpenID provider people sign in with (`OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`). */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** How long a started sign-in waits for the provider's answer. */
const PENDING_SECONDS = 600;
const pendingKey = (state: string) => `oidc:pending:${state}`;
/** Ties a started sign-in to the browser that started it. */
const BROWSER_COOKIE = 'aiworker_oidc';

const callbackQuery = z
  .object({
    state: z.string().min(1).max(200),
    code: z.string().min(1).max(4096).optional(),
    error: z.string().max(200).optional(),
    error_description: z.string().max(1000).optional(),
  })
  .passthrough();

/**
 * The error codes a provider may send back (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6): the
 * only words of its answer the sign-in page repeats. Anyone can send a browser to the callback
 * with any text; a code outside this list is not named, and the description never is.
 */
const PROVIDER_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
]);

/** The provider's configuration, discovered once per issuer (again after a failure). */
const discovered = new Map<string, Promise<oidc.Configuration>>();
function configurationOf(settings: OidcSettings): Promise<oidc.Configuration> {
  const key = `${settings.issuer} ${settings.clientId}`;
  let found = discovered.get(key);
  if (!found) {
    const issuer = new URL(settings.issuer);
    found = oidc.discovery(
      issuer,
      settings.clientId,
      undefined,
      oidc.ClientSecretPost(settings.clientSecret),
      // An issuer on plain http is the operator's explicit choice (a provider on a LAN).
      issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
    found.catch(() => discovered.delete(key));
    discovered.set(key, found);
  }
  return found;
}

/** Where the provider sends people back to. */
function redirectUri(deps: Pick<ApiDeps, 'publicUrl'>): string {
  return `${deps.publicUrl}/api/auth/oidc/callback`;
}

function providerUnreachable(): ApiError {
  return new ApiError(
    503,
    'not_ready',
    'the sign-in provider cannot be reached; try again shortly',
  );
}

/**
 * Sign-in with OpenID Connect (authorization code with PKCE, state and nonce): `start` sends the
 * browser to the provider; `callback` checks its answer, finds the person's account by the
 * verified email the provider vouches for, and starts a board session. People need an account
 * first: the provider proves who they are, aiworker decides what they may do.
 */
export function oidcRoutes(deps: ApiDeps): Router {
  const router = Router();
  const settings = (): OidcSettings => {
    if (!deps.oidc) throw new NotFoundError('sign-in with OpenID Connect is not configured here');
    return deps.oidc;
  };

  router.get('/oidc/start', async (req, res) => {
    const current = settings();
    refuseSessionAtPreviewHost(req, deps);
    await deps.limits.checkAddress(clientAddress(req));
    const config = await configurationOf(current).catch((err: unknown) => {
      deps.logger.warn({ err: (err as Error).message }, 'OpenID provider discovery failed');
      throw providerUnreachable();
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    // The sign-in belongs to this browser: the callback must come with the same cookie, so an
    // answer someone else started cannot sign this browser in (login CSRF).
    const browser = randomBytes(32).toString('base64url');
    await deps.redis.set(
      pendingKey(state),
      JSON.stringify({ verifier, nonce, browser: tokenHash(browser) }),
      'EX',
      PENDING_SECONDS,
    );
    res.setHeader(
      'set-cookie',
      cookieHeader(BROWSER_COOKIE, browser, {
        publicUrl: deps.publicUrl,
        maxAge: PENDING_SECONDS,
        path: '/api/auth/oidc',
      }),
    );
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri(deps),
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    res.redirect(302, url.href);
  });

  /** The account of the verified email the provider vouches for, when no subject is tied yet. */
  const accountByEmail = async (
    claims: Record<string, unknown> | undefined,
    address: string,
  ): Promise<SignInAccount> => {
    // Only an address the provider says it verified, and a plain one (what people sign in with).
    const parsed = loginBody.shape.email.safeParse(claims?.email);
    if (!parsed.success || claims?.email_verified !== true) {
      throw new ForbiddenError(
        'the sign-in provider did not vouch for a verified email address (scope email, email_verified)',
      );
    }
    const email = parsed.data;
    const account = await findSignInAccount(deps.db, email);
    if (!account) {
      await deps.limits.authFailed(address);
      throw new ForbiddenError(
        `there is no aiworker account for ${email}: ask an administrator to add you`,
      );
    }
    if (account.oidc) {
      // Tied to another subject: the provider gave this email to someone else since.
      await deps.limits.authFailed(address);
      throw new ForbiddenError(
        `the aiworker account of ${email} signs in as another person of the provider: ask an administrator`,
      );
    }
    return account;
  };

  /**
   * Refuses a subject no account signs in by that another account still holds: one that was
   * removed, or one whose subject differs only in case or accents (the unique index equates them).
   * Tying the subject to another account would break that index.
   */
  const refuseHeldSubject = async (issuer: string, subject: string, address: string) => {
    const holder = await findOidcSubjectHolder(deps.db, issuer, subject);
    if (!holder) return;
    await deps.limits.authFailed(address);
    deps.logger.warn(
      { holderId: holder.userId, removed: holder.removed },
      'OpenID sign-in refused: another account holds the subject',
    );
    throw new ForbiddenError(
      holder.removed
        ? 'the identity you used at the sign-in provider is tied to an aiworker account that was removed: ask an administrator'
        : 'the identity you used at the sign-in provider matches one tied to another aiworker account (aiworker does not tell letter case or accents apart): ask an administrator',
    );
  };

  /**
   * The first sign-in ties the account to the provider's subject. What refuses it here (another
   * sign-in tied the subject elsewhere since, or the account was removed) refuses the sign-in.
   */
  const linkSubject = async (account: SignInAccount, issuer: string, subject: string) => {
    const change: UserChange = {
      action: 'link',
      userId: account.user.id,
      issuer,
      subject,
      actor: { kind: 'user', id: account.user.id, name: account.user.name },
    };
    try {
      await changeUserAccount(deps, change);
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError) {
        throw new ForbiddenError(err.message);
      }
      throw err;
    }
  };

  // A browser that comes back from the provider is sent to the sign-in page with the reason;
  // other clients get the error as JSON.
  router.get('/oidc/callback', async (req: Request, res) => {
    try {
      await callback(req, res);
    } catch (err) {
      if (!(err instanceof ApiError) || req.accepts(['json', 'html']) !== 'html') throw err;
      res.redirect(302, `/#sign-in-error=${encodeURIComponent(err.message)}`);
    }
  });
  async function callback(req: Request, res: Response): Promise<void> {
    const current = settings();
    const address = clientAddress(req);
    await deps.limits.checkAddress(address);
    const query = callbackQuery.safeParse(req.query);
    if (!query.success) throw new ValidationError('invalid query: expected the provider’s state');
    // Whatever else the callback says counts only for a sign-in this browser started.
    const pending = await deps.redis.getdel(pendingKey(query.data.state));
    if (!pending) {
      throw new ValidationError(
        'this sign-in expired or was already used: start again from the board',
      );
    }
    const { verifier, nonce, browser } = JSON.parse(pending) as {
      verifier: string;
      nonce: string;
      browser: string;
    };
    const presented = parseCookies(req.headers.cookie ?? '')[BROWSER_COOKIE];
    if (!presented || tokenHash(presented) !== browser) {
      await deps.limits.authFailed(address);
      throw new ForbiddenError(
        'this sign-in was started in another browser: start again from the board',
      );
    }
    const { error } = query.data;
    if (error) {
      deps.logger.info(
        { error, description: query.data.error_description },
        'the OpenID provider did not sign the person in',
      );
      const named = PROVIDER_ERRORS.has(error) ? ` (${error})` : '';
      throw new ForbiddenError(
        `the sign-in provider refused to sign you in${named}; start again from the board`,
      );
    }
    const config = await configurationOf(current).catch((err: unknown) => {
      deps.logger.warn({ err: (err as Error).message }, 'OpenID provider discovery failed');
      throw providerUnreachable();
    });
    let claims: Record<string, unknown> | undefined;
    let subject: string | undefined;
    try {
      const callbackUrl = new URL(req.originalUrl, deps.publicUrl);
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: query.data.state,
        expectedNonce: nonce,
      });
      const idToken = tokens.claims();
      claims = idToken;
      subject = idToken?.sub;
      // Many providers put the email in the UserInfo answer only, not in the ID token.
      if (idToken && typeof idToken.email !== 'string') {
        claims = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
      }
    } catch (err) {
      await deps.limits.authFailed(address);
      deps.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'OpenID Connect sign-in failed',
      );
      throw new ForbiddenError('the sign-in provider’s answer could not be verified; start again');
    }
    const issuer = config.serverMetadata().issuer;
    // An account tied to this provider's subject signs in by it, whatever email it shows now.
    let account = subject ? await findOidcAccount(deps.db, issuer, subject) : undefined;
    if (!account) {
      if (subject) await refuseHeldSubject(issuer, subject, address);
      account = await accountByEmail(claims, address);
      if (!account.oidc && subject) await linkSubject(account, issuer, subject);
    }
    const sid = await deps.people.sessions.create(account.user.id);
    res.setHeader('set-cookie', sessionCookie(sid, deps.publicUrl));
    deps.logger.info({ userId: account.user.id }, 'signed in with OpenID Connect');
    res.redirect(302, '/');
  }
  return router;
}
