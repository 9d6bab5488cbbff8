import { useState } from 'react';
import { usePrincipal, useUsers } from '../api/queries';
import { ErrorMessage } from '../ui/error-message';
import { AddPersonForm } from './add-person-form';
import { PEOPLE_COLUMNS, PersonRow } from './person-row';
import { RemovedPerson } from './removed-person';
import { ShownOnce } from './shown-once';
import type { Secret } from './shown-once';

/** Administrators' page: who may sign in to the board, with what role, on which projects. */
export function PeopleView() {
  const users = useUsers();
  const selfId = usePrincipal().data?.id;
  const [password, setPassword] = useState<Secret | null>(null);
  const active = users.data?.filter((u) => !u.disabledAt) ?? [];
  const removed = users.data?.filter((u) => u.disabledAt) ?? [];

  return (
    <section className="account-page" aria-labelledby="people-title">
      <div className="toolbar">
        <h1 className="page-title" id="people-title">
          People
        </h1>
        <span className="muted">who may sign in to the board, and what they may do there</span>
      </div>
      {password && (
        <ShownOnce secret={password} onDone={() => setPassword(null)}>
          They sign in with their email and this password.
        </ShownOnce>
      )}
      <AddPersonForm onAdded={setPassword} />
      <ErrorMessage error={users.error} prefix="Could not load the people" />
      {users.isPending && <p className="muted page-message">Loading people…</p>}
      {active.length > 0 && (
        <table className="accounts">
          <thead>
            <tr>
              {PEOPLE_COLUMNS.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {active.map((user) => (
              <PersonRow
                key={user.id}
                user={user}
                self={user.id === selfId}
                onPassword={setPassword}
              />
            ))}
          </tbody>
        </table>
      )}
      {removed.length > 0 && (
        <details className="removed">
          <summary>Removed accounts ({removed.length})</summary>
          <ul>
            {removed.map((user) => (
              <RemovedPerson key={user.id} user={user} />
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
