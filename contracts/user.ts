import type { ByActor } from './actor';
import { z } from 'zod';
import { tokenExpiry } from './agent';

/** What a person may do (README, "People and roles"). */
export const USER_ROLES = ['admin', 'member', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, 'at most 254 characters')
  .email('expected an email address');
const name = z.string().trim().min(1, 'must not be empty').max(120, 'at most 120 characters');
const role = z.enum(USER_ROLES, { error: 'expected admin, member or viewer' });
const projectIds = z
  .array(z.string().uuid('expected a UUID'))
  .max(500, 'at most 500 projects')
  .transform((ids) => [...new Set(ids)].sort());

/** Body of `POST /api/users`. */
export const createUserBody = z
  .object({ email, name, role, projectIds: projectIds.default([]) })
  .strict();

/** Body of `PATCH /api/users/:id`: what changes; `resetPassword` issues a new initial password. */
export const updateUserBody = z
  .object({
    name: name.optional(),
    role: role.optional(),
    projectIds: projectIds.optional(),
    resetPassword: z.literal(true).optional(),
  })
  .strict()
  .refine(
    (b) => Object.keys(b).length > 0,
    'name at least one of name, role, projectIds, resetPassword',
  );

/** Body of `POST /api/auth/login`. */
export const loginBody = z
  .object({
    email,
    password: z.string().min(1, 'must not be empty').max(1024, 'at most 1024 characters'),
  })
  .strict();

/** A person as the API shows them (never their password or its hash). */
export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  /** Projects they belong to (admins see and do everything whatever this says). */
  projectIds: string[];
  createdAt: string;
  updatedAt: string;
  disabledAt: string | null;
  /**
   * Whether the account is tied to a person at the OpenID provider (set at their first sign-in
   * there); `DELETE /api/users/:id/oidc` unties it.
   */
  singleSignOn: boolean;
}

/**
 * A change to a person's account, recorded by `changeUserWorkflow`. A password travels only as
 * its argon2id hash, and only passwords aiworker generated (random, 120 bits) ever do.
 */
export type UserChange = (
  | {
      action: 'create';
      userId: string;
      email: string;
      name: string;
      role: UserRole;
      projectIds: string[];
      passwordHash: string;
    }
  | {
      action: 'update';
      userId: string;
      name?: string;
      role?: UserRole;
      projectIds?: string[];
      passwordHash?: string;
    }
  | { action: 'disable'; userId: string }
  /** The first sign-in with OpenID Connect ties the account to the provider's subject. */
  | { action: 'link'; userId: string; issuer: string; subject: string }
  /** An administrator unties the account from its provider's subject (removed accounts too). */
  | { action: 'unlink'; userId: string }
) &
  ByActor;

/** Failure types of `changeUserWorkflow` the API turns into 4xx answers. */
export const USER_EMAIL_TAKEN = 'UserEmailTaken';
export const UNKNOWN_USER = 'UnknownUser';
export const USER_DISABLED = 'UserDisabled';
/**
 * A link names a provider's subject another account is tied to (one since removed, or one the
 * database cannot tell apart: the same letters in another case).
 */
export const OIDC_SUBJECT_TAKEN = 'OidcSubjectTaken';
/** Reused from agents: a membership names projects that do not exist. */
export { UNKNOWN_PROJECTS } from './agent';

/** The workflow id of one change to a person's account (`requestId` makes a retry the same change). */
export function userChangeWorkflowId(userId: string, requestId: string): string {
  return `user-${userId}-${requestId}`;
}

/** Redis channel on which a changed or disabled person is announced to every API process. */
export const USER_CHANGES_CHANNEL = 'aiworker:user-changes';

/** Body of `POST /api/tokens`: a personal access token, optionally limited and expiring. */
export const createTokenBody = z
  .object({
    name,
    expiresAt: tokenExpiry.optional(),
    /** Limits the token to these of its person's projects; without it, all they may reach. */
    projectIds: z
      .array(z.string().uuid('expected a UUID'))
      .min(1, 'name at least one project, or leave projectIds out')
      .max(100, 'at most 100 projects')
      .transform((ids) => [...new Set(ids)].sort())
      .optional(),
  })
  .strict();

/** A personal access token as its person sees it (never the token or its hash). */
export interface PersonalTokenRecord {
  id: string;
  name: string;
  projectIds: string[] | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** A change to a personal token, recorded by `changePersonalTokenWorkflow`. */
export type PersonalTokenChange = (
  | {
      action: 'create';
      tokenId: string;
      userId: string;
      name: string;
      tokenHash: string;
      projectIds: string[] | null;
      expiresAt: string | null;
    }
  | { action: 'revoke'; tokenId: string; userId: string }
) &
  ByActor;

/** Failure type when a token change names a token its person does not have (the API answers 404). */
export const UNKNOWN_TOKEN = 'UnknownToken';

/** The workflow id of one change to a personal token. */
export function personalTokenWorkflowId(tokenId: string, requestId: string): string {
  return `personal-token-${tokenId}-${requestId}`;
}
