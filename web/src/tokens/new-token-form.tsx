import { useState } from 'react';
import { ProjectChoices } from '../people/project-choices';
import type { Secret } from '../people/shown-once';
import { ErrorMessage } from '../ui/error-message';
import { useCreateToken } from './use-tokens';

/** `POST /api/tokens`: a token for scripts, optionally expiring and limited to some projects. */
export function NewTokenForm({ onCreated }: { onCreated: (token: Secret) => void }) {
  const create = useCreateToken();
  const [name, setName] = useState('');
  const [expiresOn, setExpiresOn] = useState('');
  const [projectIds, setProjectIds] = useState<string[]>([]);

  return (
    <form
      className="panel account-form"
      aria-labelledby="new-token-title"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate(
          {
            name: name.trim(),
            // The end of the chosen day, where the person is.
            ...(expiresOn ? { expiresAt: new Date(`${expiresOn}T23:59:59`).toISOString() } : {}),
            ...(projectIds.length > 0 ? { projectIds } : {}),
          },
          {
            onSuccess: (created) => {
              setName('');
              setExpiresOn('');
              setProjectIds([]);
              onCreated({ label: `New token ${created.name}`, value: created.token });
            },
          },
        );
      }}
    >
      <h2 id="new-token-title">New token</h2>
      <div className="account-fields">
        <label className="field">
          <span>Name</span>
          <input
            name="token-name"
            required
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. laptop CLI"
          />
        </label>
        <label className="field">
          <span>Expires on (optional)</span>
          <input
            type="date"
            name="expires-on"
            value={expiresOn}
            onChange={(e) => setExpiresOn(e.target.value)}
          />
        </label>
      </div>
      <ProjectChoices
        legend="Projects"
        hint="Tick none for every project you can reach, or some to limit the token to them."
        chosen={projectIds}
        onChange={setProjectIds}
      />
      <ErrorMessage error={create.error} prefix="Could not create the token" />
      <button className="button primary" type="submit" disabled={create.isPending}>
        {create.isPending ? 'Creating…' : 'Create token'}
      </button>
    </form>
  );
}
