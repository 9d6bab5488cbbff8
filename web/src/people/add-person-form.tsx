import { useState } from 'react';
import type { UserRole } from '../api/types';
import { ErrorMessage } from '../ui/error-message';
import { ProjectChoices } from './project-choices';
import { RoleSelect } from './role-select';
import type { Secret } from './shown-once';
import { useAddPerson } from './use-people';

/** `POST /api/users`: a new account, whose generated first password goes to `onAdded`. */
export function AddPersonForm({ onAdded }: { onAdded: (password: Secret) => void }) {
  const add = useAddPerson();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<UserRole>('member');
  const [projectIds, setProjectIds] = useState<string[]>([]);

  return (
    <form
      className="panel account-form"
      aria-labelledby="add-person-title"
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate(
          { email: email.trim(), name: name.trim(), role, projectIds },
          {
            onSuccess: ({ user, password }) => {
              setEmail('');
              setName('');
              setRole('member');
              setProjectIds([]);
              onAdded({ label: `Initial password for ${user.name}`, value: password });
            },
          },
        );
      }}
    >
      <h2 id="add-person-title">Add a person</h2>
      <div className="account-fields">
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            name="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Name</span>
          <input name="name" required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <RoleSelect value={role} onChange={setRole} />
      </div>
      {role !== 'admin' && (
        <ProjectChoices
          legend="Projects"
          hint="The projects they belong to."
          chosen={projectIds}
          onChange={setProjectIds}
        />
      )}
      <ErrorMessage error={add.error} prefix="Could not add the person" />
      <button className="button primary" type="submit" disabled={add.isPending}>
        {add.isPending ? 'Adding…' : 'Add person'}
      </button>
    </form>
  );
}
