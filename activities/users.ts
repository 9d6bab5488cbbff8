import { ApplicationFailure } from '@temporalio/activity';
import {
  OIDC_SUBJECT_TAKEN,
  UNKNOWN_PROJECTS,
  UNKNOWN_TOKEN,
  UNKNOWN_USER,
  USER_CHANGES_CHANNEL,
  USER_DISABLED,
  USER_EMAIL_TAKEN,
} from '../contracts/user';
import type {
  PersonalTokenChange,
  PersonalTokenRecord,
  UserChange,
  UserRecord,
} from '../contracts/user';
import { UnknownProjects } from '../db/agents';
import {
  changePersonalToken,
  changeUser,
  OidcSubjectTaken,
  UnknownToken,
  UnknownUser,
  UserDisabled,
  UserEmailTaken,
} from '../db/users';
import { recordAudit } from '../db/audit';
import { auditEntry } from './audit';
import type { ActivityDeps } from './deps';

/** How each change to an account is named in the audit log. */
const USER_ACTIONS: Record<UserChange['action'], string> = {
  create: 'created',
  update: 'updated',
  disable: 'removed',
  link: 'linked_to_single_sign_on',
  unlink: 'unlinked_from_single_sign_on',
};

export function createUserActivities({ db, redis }: ActivityDeps) {
  return {
    /** Records a change to a person's account (idempotent; refusals are not retried). */
    async changeUserRecord(change: UserChange): Promise<UserRecord> {
      try {
        const {
          passwordHash: _hash,
          actor,
          ...detail
        } = change as UserChange & {
          passwordHash?: string;
        };
        // Audited with the change, in its transaction: one sent again adds no entry.
        return await changeUser(db, change, (sql, user) =>
          recordAudit(sql, [
            auditEntry({
              action: `user.${USER_ACTIONS[change.action]}`,
              actor,
              detail: { ...detail, email: user.email, passwordReset: _hash !== undefined },
            }),
          ]),
        );
      } catch (err) {
        const refusal = (type: string) =>
          ApplicationFailure.nonRetryable((err as Error).message, type);
        if (err instanceof UserEmailTaken) throw refusal(USER_EMAIL_TAKEN);
        if (err instanceof UnknownUser) throw refusal(UNKNOWN_USER);
        if (err instanceof UserDisabled) throw refusal(USER_DISABLED);
        if (err instanceof UnknownProjects) throw refusal(UNKNOWN_PROJECTS);
        // A unique index refuses the same statement however often it is retried.
        if (err instanceof OidcSubjectTaken) throw refusal(OIDC_SUBJECT_TAKEN);
        throw err;
      }
    },

    /** Records a personal token or its revocation (idempotent; refusals are not retried). */
    async changePersonalTokenRecord(change: PersonalTokenChange): Promise<PersonalTokenRecord> {
      try {
        // Audited with the change, in its transaction: a revocation sent again adds no entry.
        return await changePersonalToken(db, change, (sql, token) =>
          recordAudit(sql, [
            auditEntry({
              action: change.action === 'create' ? 'token.created' : 'token.revoked',
              actor: change.actor,
              detail: { tokenId: change.tokenId, userId: change.userId, name: token.name },
            }),
          ]),
        );
      } catch (err) {
        const refusal = (type: string) =>
          ApplicationFailure.nonRetryable((err as Error).message, type);
        if (err instanceof UnknownToken) throw refusal(UNKNOWN_TOKEN);
        if (err instanceof UnknownUser) throw refusal(UNKNOWN_USER);
        if (err instanceof UserDisabled) throw refusal(USER_DISABLED);
        if (err instanceof UnknownProjects) throw refusal(UNKNOWN_PROJECTS);
        throw err;
      }
    },

    /**
     * Tells every API process that a person's account changed: they forget what they remember
     * of it (role, memberships, their tokens) and, when it was disabled, end its sessions' sockets.
     */
    async announceUserChange(userId: string): Promise<void> {
      await redis.publish(USER_CHANGES_CHANNEL, JSON.stringify({ userId }));
    },
  };
}
