import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type {
  PersonalTokenChange,
  PersonalTokenRecord,
  UserChange,
  UserRecord,
} from '../contracts/user';

const { changeUserRecord, changePersonalTokenRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 20 },
});

const { announceUserChange } = proxyActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds', maximumAttempts: 5 },
});

/**
 * Creates, changes or disables a person's account, then tells the API processes. The change
 * holds once recorded even if the announcement cannot be made: accounts are re-read within a
 * second anyway.
 */
export async function changeUserWorkflow(change: UserChange): Promise<UserRecord> {
  const user = await changeUserRecord(change);
  if (change.action !== 'create') {
    try {
      await announceUserChange(change.userId);
    } catch (err) {
      log.warn('could not announce a change to an account', {
        userId: change.userId,
        error: (err as Error).message,
      });
    }
  }
  return user;
}

/**
 * Records a person's new personal token, or revokes one and tells the API processes, which
 * forget it at once (and within a second anyway).
 */
export async function changePersonalTokenWorkflow(
  change: PersonalTokenChange,
): Promise<PersonalTokenRecord> {
  const token = await changePersonalTokenRecord(change);
  if (change.action === 'revoke') {
    try {
      await announceUserChange(change.userId);
    } catch (err) {
      log.warn('could not announce a revoked token', {
        userId: change.userId,
        error: (err as Error).message,
      });
    }
  }
  return token;
}
