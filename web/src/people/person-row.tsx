import { useState } from 'react';
import { useProjects } from '../api/queries';
import type { UserRecord } from '../api/types';
import { ErrorMessage } from '../ui/error-message';
import { formatTime } from '../ui/time';
import { ConfirmRow } from './confirm-row';
import { EditPersonForm } from './edit-person-form';
import { ROLES } from './role-select';
import type { Secret } from './shown-once';
import { useChangePerson, useRemovePerson } from './use-people';

export const PEOPLE_COLUMNS = ['Name', 'Email', 'Role', 'Projects', 'Added', 'Actions'];

/**
 * One person, with what an administrator may do to them. Not to themselves: resetting their own
 * password or removing their own account would end the session they are using.
 */
export function PersonRow(props: {
  user: UserRecord;
  self: boolean;
  onPassword: (password: Secret) => void;
}) {
  const { user, self, onPassword } = props;
  const reset = useChangePerson(user.id);
  const remove = useRemovePerson(user.id);
  const projects = useProjects().data ?? [];
  const [open, setOpen] = useState<'none' | 'edit' | 'remove'>('none');
  const toggle = (what: 'edit' | 'remove') => setOpen(open === what ? 'none' : what);
  const projectName = (id: string) => projects.find((p) => p.id === id)?.name ?? id;
  const resetPassword = () =>
    reset.mutate(
      { resetPassword: true },
      {
        onSuccess: ({ password }) => {
          if (password) onPassword({ label: `New password for ${user.name}`, value: password });
        },
      },
    );

  return (
    <>
      <tr data-user-id={user.id}>
        <th scope="row" data-label="Name">
          {user.name}
          {self && <span className="muted"> (you)</span>}
        </th>
        <td data-label="Email">{user.email}</td>
        <td data-label="Role">{ROLES[user.role].label}</td>
        <td data-label="Projects">
          {user.role === 'admin'
            ? 'every project'
            : user.projectIds.map(projectName).join(', ') || <span className="muted">none</span>}
        </td>
        <td data-label="Added">
          <time dateTime={user.createdAt}>{formatTime(user.createdAt)}</time>
        </td>
        <td>
          <div className="row-actions">
            <button
              className="button small"
              type="button"
              aria-label={`Edit ${user.name}`}
              aria-expanded={open === 'edit'}
              onClick={() => toggle('edit')}
            >
              Edit
            </button>
            {!self && (
              <>
                <button
                  className="button small"
                  type="button"
                  aria-label={`Reset password of ${user.name}`}
                  disabled={reset.isPending}
                  onClick={resetPassword}
                >
                  Reset password
                </button>
                <button
                  className="button small danger-ghost"
                  type="button"
                  aria-label={`Remove ${user.name}`}
                  aria-expanded={open === 'remove'}
                  onClick={() => toggle('remove')}
                >
                  Remove
                </button>
              </>
            )}
            <ErrorMessage error={reset.error} prefix="Could not reset the password" />
          </div>
        </td>
      </tr>
      {open === 'edit' && (
        <tr className="row-form">
          <td colSpan={PEOPLE_COLUMNS.length}>
            <EditPersonForm user={user} onDone={() => setOpen('none')} />
          </td>
        </tr>
      )}
      {open === 'remove' && (
        <ConfirmRow
          columns={PEOPLE_COLUMNS.length}
          question={`Remove ${user.name} (${user.email})? They can no longer sign in, and every session of theirs ends now. What they did keeps their name.`}
          confirmLabel="Confirm removal"
          pending={remove.isPending}
          error={remove.error}
          errorPrefix="Could not remove the person"
          onConfirm={() => remove.mutate()}
          onCancel={() => setOpen('none')}
        />
      )}
    </>
  );
}
