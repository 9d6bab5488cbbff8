import { useState } from 'react';
import type { UserRecord } from '../api/types';
import { ErrorMessage } from '../ui/error-message';
import { ProjectChoices } from './project-choices';
import { RoleSelect } from './role-select';
import { useChangePerson } from './use-people';

/** `PATCH /api/users/:id`: a person's role and the projects they belong to. */
export function EditPersonForm({ user, onDone }: { user: UserRecord; onDone: () => void }) {
  const change = useChangePerson(user.id);
  const [role, setRole] = useState(user.role);
  const [projectIds, setProjectIds] = useState(user.projectIds);

  return (
    <form
      className="account-form"
      aria-label={`Edit ${user.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        change.mutate({ role, projectIds }, { onSuccess: onDone });
      }}
    >
      <RoleSelect value={role} onChange={setRole} />
      {role !== 'admin' && (
        <ProjectChoices
          legend="Projects"
          hint={`The projects ${user.name} belongs to.`}
          chosen={projectIds}
          onChange={setProjectIds}
        />
      )}
      <ErrorMessage error={change.error} prefix="Could not save the changes" />
      <div className="form-buttons">
        <button className="button primary" type="submit" disabled={change.isPending}>
          {change.isPending ? 'Saving…' : 'Save changes'}
        </button>
        <button className="button ghost" type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
