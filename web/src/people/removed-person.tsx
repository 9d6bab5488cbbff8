import { useState } from 'react';
import type { UserRecord } from '../api/types';
import { ErrorMessage } from '../ui/error-message';
import { formatTime } from '../ui/time';
import { useUntiePerson } from './use-people';

/**
 * A removed account. One still tied to a person's identity at the OpenID provider keeps that
 * identity from signing in to any other account (such as the one they were added again under)
 * until an administrator unties it here.
 */
export function RemovedPerson({ user }: { user: UserRecord }) {
  const untie = useUntiePerson(user.id);
  const [asking, setAsking] = useState(false);
  return (
    <li>
      {user.name} ({user.email}), removed {formatTime(user.disabledAt!)}
      {user.singleSignOn && !asking && (
        <button
          className="button ghost small"
          type="button"
          aria-label={`Untie the single sign-on of ${user.email}`}
          onClick={() => setAsking(true)}
        >
          Untie single sign-on
        </button>
      )}
      {user.singleSignOn && asking && (
        <div className="row-form">
          <p>
            Untie this account from {user.name}&apos;s identity at the single sign-on provider? That
            identity can then sign in to another account of theirs; this one stays removed.
          </p>
          <ErrorMessage error={untie.error} prefix="Could not untie the account" />
          <div className="form-buttons">
            <button
              className="button danger"
              type="button"
              disabled={untie.isPending}
              onClick={() => untie.mutate(undefined, { onSuccess: () => setAsking(false) })}
            >
              Untie
            </button>
            <button className="button ghost" type="button" onClick={() => setAsking(false)}>
              Keep
            </button>
          </div>
        </div>
      )}
    </li>
  );
}
