import { randomBytes, randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { Router } from 'express';
import type { Request } from 'express';
import { FIRST_ADMIN_LINK_ACTOR } from '../../contracts/actor';
import { z } from 'zod';
import {
  createTokenBody,
  createUserBody,
  personalTokenWorkflowId,
  UNKNOWN_TOKEN,
  loginBody,
  OIDC_SUBJECT_TAKEN,
  UNKNOWN_PROJECTS,
  UNKNOWN_USER,
  updateUserBody,
  USER_DISABLED,
  USER_EMAIL_TAKEN,
  userChangeWorkflowId,
} from '../../contracts/user';
import type {
  PersonalTokenChange,
  PersonalTokenRecord,
  UserChange,
  UserRecord,
} from '../../contracts/user';
import {
  anyActiveUser,
  findSignInAccount,
  findUser,
  listPersonalTokens,
  listUsers,
} from '../../db/users';
import type { ApiDeps } from '../deps';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../errors';
import {
  actorOf,
  maySeeProject,
  PERSONAL_TOKEN_PREFIX,
  requireAdministrator,
  tokenHash,
  refuseSessionAtPreviewHost,
} from '../middleware/auth';
import { clientAddress } from '../middleware/limits';
import { recordThroughWorkflow } from '../temporal-errors';
import { emptyBody, validate } from '../validate';
import { clearedSessionCookie, sessionCookie, sessionIdOf } from './sessions';

/** argon2id with the library's defaults (19 MiB, 2 passes): OWASP's minimum recommendation. */
export async function hashPassword(password: string): Promise<string> {
  return await hash(password);
}

/** A generated initial password: 120 random bits, shown once. */
export function newPassword(): string {
  return randomBytes(15).toString('base64url');
}

/** A hash no password matches, verified when the account does not exist (same time either way). */
let decoy: Promise<string> | undefined;

/** Password checks running at once in this process (each takes ~19 MiB and a thread for a while). */
const MAX_VERIFYING = 4;
let verifyingNow = 0;
const waitingToVerify: Array<() => void> = [];

/** Runs a password check when fewer than MAX_VERIFYING run, so a flood of sign-ins queues up. */
async function verifying<T>(check: () => Promise<T>): Promise<T> {
  if (verifyingNow >= MAX_VERIFYING) {
    await new Promise<void>((resolve) => waitingToVerify.push(resolve));
  }
  verifyingNow += 1;
  try {
    return await check();
  } finally {
    verifyingNow -= 1;
    waitingToVerify.shift()?.();
  }
}

const userParams = z.object({ id: z.string().uuid('expected a UUID') });
const userTokenParams = z.object({
  id: z.string().uuid('expected a UUID'),
  tokenId: z.string().uuid('expected a UUID'),
});
const listQuery = z
  .object({
    after: z.string().uuid('expected a UUID').optional(),
    limit: z.coerce.number().int().min(1).max(500, 'at most 500').default(100),
  })
  .strict();

/** Runs one change to an account through its workflow; the API writes no table itself. */
export function changeUserAccount(
  deps: Pick<ApiDeps, 'temporal' | 'taskQueue'>,
  change: UserChange,
): Promise<UserRecord> {
  return recordThroughWorkflow(
    deps,
    'changeUserWorkflow',
    userChangeWorkflowId(change.userId, randomUUID()),
    change,
    {
      notFound: [UNKNOWN_USER, UNKNOWN_PROJECTS],
      conflict: [USER_EMAIL_TAKEN, USER_DISABLED, OIDC_SUBJECT_TAKEN],
    },
  );
}

/**
 * `/api/auth`: sign-in with email and password (a session cookie for the board) and sign-out.
 * Served before authentication. Failed sign-ins count against the client's address and against
 * the account, so neither guessing one account from many addresses nor many accounts from one
 * address goes far.
 */
export function authRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/login', async (req, res) => {
    refuseSessionAtPreviewHost(req, deps);
    const address = clientAddress(req);
    await deps.limits.checkAddress(address);
    const { email, password } = validate(loginBody, req.body, 'body');
    const accountKey = `account:${email}`;
    await deps.limits.attempt(address, 'too many failed authentications from this address');
    await deps.limits.attempt(accountKey, 'too many failed sign-ins for this account lately');
    const account = await findSignInAccount(deps.db, email);
    decoy ??= hash(newPassword());
    const against = account?.passwordHash ?? (await decoy);
    const matches = await verifying(() => verify(against, password).catch(() => false));
    if (!account || !account.passwordHash || !matches) {
      throw new UnauthorizedError('wrong email or password');
    }
    await Promise.all([deps.limits.forgive(address), deps.limits.forgive(accountKey)]);
    const sid = await deps.people.sessions.create(account.user.id);
    res.setHeader('set-cookie', sessionCookie(sid, deps.publicUrl));
    deps.logger.info({ userId: account.user.id }, 'signed in');
    res.json({ user: account.user });
  });

  // How people may sign in here: the board shows a single-sign-on button when OIDC is set up.
  router.get('/methods', (_req, res) => {
    res.json({ password: true, oidc: deps.oidc !== null });
  });

  // Ends the cookie's session on every API process (sessions live in Redis).
  router.post('/logout', async (req, res) => {
    validate(emptyBody, req.body, 'body');
    const origin = req.headers.origin;
    if (origin && !deps.people.boardOrigins(req.headers.host, req.secure).includes(origin)) {
      throw new ForbiddenError("sign-out must come from the board's own origin");
    }
    const sid = sessionIdOf(req.headers.cookie);
    if (sid) await deps.people.sessions.end(sid);
    res.setHeader('set-cookie', clearedSessionCookie(deps.publicUrl));
    res.status(204).end();
  });
  return router;
}

/** How long the first administrator's sign-in link works. */
const FIRST_ADMIN_LINK_SECONDS = 3600;
const firstAdminKey = (token: string) => `first-admin:${tokenHash(token)}`;

const firstAdminBody = z
  .object({
    token: z.string().min(20, 'expected the token of the sign-in link').max(100),
    email: createUserBody.shape.email,
    name: createUserBody.shape.name,
  })
  .strict();

/** Whether anyone may sign in yet: the first administrator's link is only for an empty system. */
async function noPeopleYet(deps: Pick<ApiDeps, 'db'>): Promise<boolean> {
  return !(await anyActiveUser(deps.db));
}

/**
 * `POST /api/auth/first-admin`: the one-time link `npm start` prints while nobody has an account
 * makes whoever opens it the first administrator (a generated password, shown once) and signs
 * them in. The link works once, for an hour, and only while there is still nobody.
 */
export function firstAdminRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/first-admin', async (req, res) => {
    refuseSessionAtPreviewHost(req, deps);
    const address = clientAddress(req);
    await deps.limits.checkAddress(address);
    const body = validate(firstAdminBody, req.body, 'body');
    const claimed = await deps.redis.getdel(firstAdminKey(body.token));
    if (!claimed) {
      await deps.limits.authFailed(address);
      throw new ValidationError(
        'this sign-in link was used or has expired: `npm start` prints a new one while nobody has an account',
      );
    }
    if (!(await noPeopleYet(deps))) {
      throw new ConflictError('there are already people with accounts: ask an administrator');
    }
    const password = newPassword();
    const user = await changeUserAccount(deps, {
      action: 'create',
      userId: randomUUID(),
      email: body.email,
      name: body.name,
      role: 'admin',
      projectIds: [],
      passwordHash: await hashPassword(password),
      actor: FIRST_ADMIN_LINK_ACTOR,
    });
    const sid = await deps.people.sessions.create(user.id);
    res.setHeader('set-cookie', sessionCookie(sid, deps.publicUrl));
    deps.logger.info({ userId: user.id }, 'first administrator created from the sign-in link');
    res.status(201).json({ user, password });
  });
  return router;
}

/** `/api/users`: administrators manage people's accounts, roles and memberships. */
export function userRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.use('/users', requireAdministrator, (req, _res, next) => {
    // Accounts change from a board session or with the operator's token, never with a personal
    // token (one that leaked must not mint passwords or administrators).
    if (req.principal?.kind === 'user' && !req.principal.viaCookie) {
      throw new ForbiddenError(
        'people are managed from a board session or with the admin token, not with a personal token',
      );
    }
    next();
  });

  router.post('/users', async (req, res) => {
    const body = validate(createUserBody, req.body, 'body');
    const password = newPassword();
    const user = await changeUserAccount(deps, {
      action: 'create',
      userId: randomUUID(),
      ...body,
      passwordHash: await hashPassword(password),
      actor: actorOf(req.principal!),
    });
    res.status(201).json({ user, password });
  });

  // The one-time link for the first administrator (`npm start` asks for it with the admin token).
  router.post('/users/first-admin-link', async (req, res) => {
    validate(emptyBody, req.body, 'body');
    if (!(await noPeopleYet(deps))) {
      throw new ConflictError(
        'there are already people with accounts: add more with POST /api/users',
      );
    }
    const token = randomBytes(32).toString('base64url');
    await deps.redis.set(firstAdminKey(token), '1', 'EX', FIRST_ADMIN_LINK_SECONDS);
    res.status(201).json({
      url: `${deps.publicUrl}/#first-admin=${token}`,
      expiresAt: new Date(Date.now() + FIRST_ADMIN_LINK_SECONDS * 1000).toISOString(),
    });
  });

  router.get('/users', async (req, res) => {
    const { after, limit } = validate(listQuery, req.query, 'query');
    const users = await listUsers(deps.db, { after, limit });
    res.json({ users, next: users.length === limit ? users[users.length - 1]!.id : null });
  });

  router.get('/users/:id', async (req, res) => {
    const { id } = validate(userParams, req.params, 'params');
    const user = await findUser(deps.db, id);
    if (!user) throw new NotFoundError(`there is no user ${id}`);
    res.json(user);
  });

  router.patch('/users/:id', async (req, res) => {
    const { id } = validate(userParams, req.params, 'params');
    const { resetPassword, ...fields } = validate(updateUserBody, req.body, 'body');
    const password = resetPassword ? newPassword() : undefined;
    const user = await changeUserAccount(deps, {
      action: 'update',
      userId: id,
      ...fields,
      ...(password ? { passwordHash: await hashPassword(password) } : {}),
      actor: actorOf(req.principal!),
    });
    if (password) await deps.people.sessions.endAll(id);
    res.json(password ? { user, password } : { user });
  });

  // Disables the account: no sign-in, every session ends; kept so past actions keep a name.
  router.delete('/users/:id', async (req, res) => {
    const { id } = validate(userParams, req.params, 'params');
    if (selfId(req) === id) throw new ConflictError('you cannot remove your own account');
    const user = await changeUserAccount(deps, {
      action: 'disable',
      userId: id,
      actor: actorOf(req.principal!),
    });
    await deps.people.sessions.endAll(id);
    res.json({ user });
  });

  // Unties the account from its OpenID provider's subject, so that the subject may sign in to
  // another account: the one a person was added again under after this one was removed. The
  // refusal of such a sign-in is logged with the holding account's id (docs/operations.md).
  router.delete('/users/:id/oidc', async (req, res) => {
    const { id } = validate(userParams, req.params, 'params');
    const user = await changeUserAccount(deps, {
      action: 'unlink',
      userId: id,
      actor: actorOf(req.principal!),
    });
    res.json({ user });
  });

  // A person's tokens, for an administrator to see and, when one leaked, revoke.
  router.get('/users/:id/tokens', async (req, res) => {
    const { id } = validate(userParams, req.params, 'params');
    if (!(await findUser(deps.db, id))) throw new NotFoundError(`there is no user ${id}`);
    res.json({ tokens: await listPersonalTokens(deps.db, id) });
  });
  router.delete('/users/:id/tokens/:tokenId', async (req, res) => {
    const { id, tokenId } = validate(userTokenParams, req.params, 'params');
    res.json(
      await changePersonalToken(deps, {
        action: 'revoke',
        tokenId,
        userId: id,
        actor: actorOf(req.principal!),
      }),
    );
  });
  return router;
}

/** Runs one change to a personal token through its workflow. */
function changePersonalToken(
  deps: Pick<ApiDeps, 'temporal' | 'taskQueue'>,
  change: PersonalTokenChange,
): Promise<PersonalTokenRecord> {
  return recordThroughWorkflow(
    deps,
    'changePersonalTokenWorkflow',
    personalTokenWorkflowId(change.tokenId, randomUUID()),
    change,
    { notFound: [UNKNOWN_TOKEN, UNKNOWN_PROJECTS], conflict: [UNKNOWN_USER, USER_DISABLED] },
  );
}

/**
 * `/api/tokens`: a signed-in person's personal access tokens, for scripts and the CLI. Made and
 * revoked only from a board session (a token does not mint tokens); shown once, stored as a hash.
 */
export function tokenRoutes(deps: ApiDeps): Router {
  const router = Router();
  const owner = (req: Request): string => {
    const principal = req.principal;
    if (principal?.kind !== 'user') {
      throw new ForbiddenError(
        'personal tokens belong to a person: sign in to the board with your account',
      );
    }
    return principal.userId;
  };
  const fromSession = (req: Request): string => {
    const userId = owner(req);
    if (req.principal?.kind === 'user' && !req.principal.viaCookie) {
      throw new ForbiddenError(
        'tokens are made and revoked from a board session, not with a token',
      );
    }
    return userId;
  };
  const change = (c: PersonalTokenChange) => changePersonalToken(deps, c);

  router.post('/tokens', async (req, res) => {
    const userId = fromSession(req);
    const body = validate(createTokenBody, req.body, 'body');
    // A token reaches only projects its person may read; to a person, another project does not
    // exist, and is named as a project that does not (the same answer as for an unknown id).
    const hidden = (body.projectIds ?? []).filter((id) => !maySeeProject(req.principal!, id));
    if (hidden.length > 0) throw new NotFoundError(`no project ${hidden.join(', ')}`);
    const token = `${PERSONAL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await change({
      action: 'create',
      tokenId: randomUUID(),
      userId,
      name: body.name,
      tokenHash: tokenHash(token),
      projectIds: body.projectIds ?? null,
      expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
      actor: actorOf(req.principal!),
    });
    res.status(201).json({ ...record, token });
  });

  router.get('/tokens', async (req, res) => {
    res.json({ tokens: await listPersonalTokens(deps.db, owner(req)) });
  });

  // Revokes one of the person's tokens; every API process refuses it within a second.
  router.delete('/tokens/:id', async (req, res) => {
    const userId = fromSession(req);
    const { id } = validate(userParams, req.params, 'params');
    res.json(
      await change({ action: 'revoke', tokenId: id, userId, actor: actorOf(req.principal!) }),
    );
  });
  return router;
}

function selfId(req: Request): string | undefined {
  return req.principal?.kind === 'user' ? req.principal.userId : undefined;
}
