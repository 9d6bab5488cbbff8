import type {
  PersonalTokenChange,
  PersonalTokenRecord,
  UserChange,
  UserRecord,
} from '../contracts/user';
import type { Prisma } from '../generated/prisma/client';
import type { Db } from './client';
import { prismaRunner } from './sql';
import type { SqlRunner } from './sql';
import { UnknownProjects } from './agents';

type Row = Prisma.UserGetPayload<{ include: { projects: true } }>;

function present(row: Row): UserRecord {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    projectIds: row.projects.map((p) => p.projectId).sort(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    disabledAt: row.disabledAt?.toISOString() ?? null,
    singleSignOn: row.oidcSubject !== null,
  };
}

/** An email another account already uses. */
export class UserEmailTaken extends Error {
  constructor(email: string) {
    super(`there is already an account for ${email}`);
  }
}

/** A change names an account that does not exist. */
export class UnknownUser extends Error {
  constructor(id: string) {
    super(`there is no user ${id}`);
  }
}

/** A change to an account that was disabled. */
export class UserDisabled extends Error {
  constructor(id: string) {
    super(`user ${id} was removed; create a new account instead`);
  }
}

/**
 * A link names a provider's subject another account is tied to: one since removed, or one whose
 * subject the column's collation cannot tell from this one (letter case, accents).
 */
export class OidcSubjectTaken extends Error {
  constructor() {
    super(
      'this identity of the sign-in provider is tied to another aiworker account: ask an administrator',
    );
  }
}

/** Prisma's code for a violated unique index. */
const UNIQUE_VIOLATION = 'P2002';

/**
 * The account other than `exceptId` tied to this provider's subject as the unique index sees it:
 * through the collation, which ignores letter case and accents.
 */
async function oidcHolder(
  db: Prisma.TransactionClient | Db,
  issuer: string,
  subject: string,
  exceptId?: string,
): Promise<{ id: string; disabledAt: Date | null } | null> {
  return await db.user.findFirst({
    where: {
      oidcIssuer: issuer,
      oidcSubject: subject,
      ...(exceptId ? { NOT: { id: exceptId } } : {}),
    },
    select: { id: true, disabledAt: true },
  });
}

async function requireProjects(tx: Prisma.TransactionClient, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = await tx.project.findMany({ where: { id: { in: ids } }, select: { id: true } });
  const missing = ids.filter((id) => !found.some((p) => p.id === id));
  if (missing.length > 0) throw new UnknownProjects(missing);
}

/**
 * Records a change to an account. Idempotent: a creation retried finds its account; an update
 * or a disabling applied twice changes nothing more. `changed` runs in the same transaction when
 * this call changes the account (the audit entry of the change): a removal, a link or an unlink
 * sent again is none, nor is a creation that finds its account made.
 */
export async function changeUser(
  db: Db,
  change: UserChange,
  changed: (sql: SqlRunner, user: UserRecord) => Promise<void> = async () => {},
): Promise<UserRecord> {
  return await db.$transaction(async (tx) => {
    let changes = true;
    const existing = await tx.user.findUnique({
      where: { id: change.userId },
      include: { projects: true },
    });
    if (change.action === 'create') {
      if (existing) return present(existing);
      const sameEmail = await tx.user.findUnique({ where: { email: change.email } });
      if (sameEmail) throw new UserEmailTaken(change.email);
      await requireProjects(tx, change.projectIds);
      const row = await tx.user.create({
        data: {
          id: change.userId,
          email: change.email,
          name: change.name,
          role: change.role,
          passwordHash: change.passwordHash,
          projects: { create: change.projectIds.map((projectId) => ({ projectId })) },
        },
        include: { projects: true },
      });
      const created = present(row);
      await changed(prismaRunner(tx), created);
      return created;
    }
    if (!existing) throw new UnknownUser(change.userId);
    if (change.action === 'disable') {
      if (existing.disabledAt) changes = false;
      else await tx.user.update({ where: { id: existing.id }, data: { disabledAt: new Date() } });
    } else if (change.action === 'unlink') {
      // Frees the provider's subject, removed accounts included: that is what it is for.
      if (existing.oidcSubject === null) changes = false;
      else {
        await tx.user.update({
          where: { id: existing.id },
          data: { oidcIssuer: null, oidcSubject: null },
        });
      }
    } else if (change.action === 'link') {
      if (existing.disabledAt) throw new UserDisabled(existing.id);
      if (existing.oidcSubject !== null) changes = false;
      else {
        if (await oidcHolder(tx, change.issuer, change.subject, existing.id)) {
          throw new OidcSubjectTaken();
        }
        // Two first sign-ins at once both find the subject free; the index refuses the second.
        await tx.user
          .update({
            where: { id: existing.id },
            data: { oidcIssuer: change.issuer, oidcSubject: change.subject },
          })
          .catch((err: unknown) => {
            throw (err as { code?: unknown }).code === UNIQUE_VIOLATION
              ? new OidcSubjectTaken()
              : err;
          });
      }
    } else {
      if (existing.disabledAt) throw new UserDisabled(existing.id);
      if (change.projectIds) {
        await requireProjects(tx, change.projectIds);
        await tx.userProject.deleteMany({ where: { userId: existing.id } });
        await tx.userProject.createMany({
          data: change.projectIds.map((projectId) => ({ userId: existing.id, projectId })),
        });
      }
      if (change.passwordHash !== undefined) {
        // A new password ends what the old one may have made: the person's tokens stop too.
        await tx.personalToken.updateMany({
          where: { userId: existing.id, revokedAt: null },
          data: { revokedAt: new Date() },
        });
      }
      await tx.user.update({
        where: { id: existing.id },
        data: {
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(change.role !== undefined ? { role: change.role } : {}),
          ...(change.passwordHash !== undefined ? { passwordHash: change.passwordHash } : {}),
        },
      });
    }
    const user = present(
      await tx.user.findUniqueOrThrow({ where: { id: existing.id }, include: { projects: true } }),
    );
    if (changes) await changed(prismaRunner(tx), user);
    return user;
  });
}

/** One account, disabled or not. */
export async function findUser(db: Db, id: string): Promise<UserRecord | undefined> {
  const row = await db.user.findUnique({ where: { id }, include: { projects: true } });
  return row ? present(row) : undefined;
}

/** An account that may sign in, with its password hash and the OpenID subject it is tied to. */
export interface SignInAccount {
  user: UserRecord;
  passwordHash: string | null;
  oidc: { issuer: string; subject: string } | null;
}

/** The account that may sign in with this email. */
export async function findSignInAccount(db: Db, email: string): Promise<SignInAccount | undefined> {
  const row = await db.user.findUnique({ where: { email }, include: { projects: true } });
  // The column's collation matches case- and accent-insensitively (é = e, ß = ss): only the
  // very address counts.
  if (!row || row.disabledAt || row.email !== email) return undefined;
  return signInAccount(row);
}

/** The account tied to an OpenID provider's subject, if it may sign in. */
export async function findOidcAccount(
  db: Db,
  issuer: string,
  subject: string,
): Promise<SignInAccount | undefined> {
  const row = await db.user.findFirst({
    where: { oidcIssuer: issuer, oidcSubject: subject },
    include: { projects: true },
  });
  // Compared again: the collation would match ids that differ in case.
  if (!row || row.disabledAt || row.oidcIssuer !== issuer || row.oidcSubject !== subject) {
    return undefined;
  }
  return signInAccount(row);
}

/**
 * The account, removed or not, that holds this provider's subject in a way that keeps another
 * account from being tied to it, when no account may sign in by it (`findOidcAccount` found none):
 * a removed account, or one whose subject differs only in letter case or accents.
 */
export async function findOidcSubjectHolder(
  db: Db,
  issuer: string,
  subject: string,
): Promise<{ userId: string; removed: boolean } | undefined> {
  const row = await oidcHolder(db, issuer, subject);
  return row ? { userId: row.id, removed: row.disabledAt !== null } : undefined;
}

function signInAccount(
  row: Parameters<typeof present>[0] & {
    passwordHash: string | null;
    oidcIssuer: string | null;
    oidcSubject: string | null;
  },
): SignInAccount {
  return {
    user: present(row),
    passwordHash: row.passwordHash,
    oidc:
      row.oidcIssuer !== null && row.oidcSubject !== null
        ? { issuer: row.oidcIssuer, subject: row.oidcSubject }
        : null,
  };
}

/** A page of accounts by id: the first `limit` after `after`. */
export async function listUsers(
  db: Db,
  page: { after?: string; limit: number },
): Promise<UserRecord[]> {
  const rows = await db.user.findMany({
    where: page.after ? { id: { gt: page.after } } : {},
    include: { projects: true },
    orderBy: { id: 'asc' },
    take: page.limit,
  });
  return rows.map(present);
}

/** Whether any account that can sign in exists (the first admin is made when none does). */
export async function anyActiveUser(db: Db): Promise<boolean> {
  return (await db.user.count({ where: { disabledAt: null } })) > 0;
}

type TokenRow = Prisma.PersonalTokenGetPayload<object>;

function presentToken(row: TokenRow): PersonalTokenRecord {
  return {
    id: row.id,
    name: row.name,
    projectIds: Array.isArray(row.projectIds) ? (row.projectIds as string[]) : null,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** A token change names a token its person does not have. */
export class UnknownToken extends Error {
  constructor(id: string) {
    super(`there is no such personal token: ${id}`);
  }
}

/**
 * Records a personal token or its revocation. Idempotent, like the other credential changes:
 * `changed` runs in the same transaction only when this call creates or revokes the token (its
 * audit entry; a revocation sent again is none).
 */
export async function changePersonalToken(
  db: Db,
  change: PersonalTokenChange,
  changed: (sql: SqlRunner, token: PersonalTokenRecord) => Promise<void> = async () => {},
): Promise<PersonalTokenRecord> {
  return await db.$transaction(async (tx) => {
    const existing = await tx.personalToken.findUnique({ where: { id: change.tokenId } });
    if (change.action === 'create') {
      if (existing) return presentToken(existing);
      const user = await tx.user.findUnique({ where: { id: change.userId } });
      if (!user) throw new UnknownUser(change.userId);
      if (user.disabledAt) throw new UserDisabled(user.id);
      if (change.projectIds) await requireProjects(tx, change.projectIds);
      const created = presentToken(
        await tx.personalToken.create({
          data: {
            id: change.tokenId,
            userId: change.userId,
            name: change.name,
            tokenHash: change.tokenHash,
            projectIds: change.projectIds ?? undefined,
            expiresAt: change.expiresAt ? new Date(change.expiresAt) : null,
          },
        }),
      );
      await changed(prismaRunner(tx), created);
      return created;
    }
    if (!existing || existing.userId !== change.userId) throw new UnknownToken(change.tokenId);
    if (existing.revokedAt) return presentToken(existing);
    const revoked = presentToken(
      await tx.personalToken.update({
        where: { id: existing.id },
        data: { revokedAt: new Date() },
      }),
    );
    await changed(prismaRunner(tx), revoked);
    return revoked;
  });
}

/** A person's tokens, newest first (revoked ones included, for the record). */
export async function listPersonalTokens(db: Db, userId: string): Promise<PersonalTokenRecord[]> {
  const rows = await db.personalToken.findMany({
    where: { userId },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
  return rows.map(presentToken);
}

/**
 * The person behind a personal token and the token's own limits, if the token still works: not
 * revoked, not expired, its person not removed.
 */
export async function findActivePersonalToken(
  db: Db,
  tokenHash: string,
): Promise<{ token: PersonalTokenRecord; user: UserRecord } | undefined> {
  const row = await db.personalToken.findUnique({
    where: { tokenHash },
    include: { user: { include: { projects: true } } },
  });
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) {
    return undefined;
  }
  if (row.user.disabledAt) return undefined;
  return { token: presentToken(row), user: present(row.user) };
}
