import { useState } from 'react';
import { useProjects } from '../api/queries';
import type { PersonalTokenRecord } from '../api/types';
import { ConfirmRow } from '../people/confirm-row';
import { formatTime } from '../ui/time';
import { useRevokeToken } from './use-tokens';

export const TOKEN_COLUMNS = ['Name', 'Scope', 'Created', 'Expires', 'State', 'Actions'];

export function TokenRow({ token, now }: { token: PersonalTokenRecord; now: number }) {
  const revoke = useRevokeToken(token.id);
  const projects = useProjects().data ?? [];
  const [confirming, setConfirming] = useState(false);
  const projectName = (id: string) => projects.find((p) => p.id === id)?.name ?? id;
  const expired = token.expiresAt !== null && Date.parse(token.expiresAt) <= now;

  return (
    <>
      <tr data-token-id={token.id}>
        <th scope="row" data-label="Name">
          {token.name}
        </th>
        <td data-label="Scope">
          {token.projectIds ? token.projectIds.map(projectName).join(', ') : 'all your projects'}
        </td>
        <td data-label="Created">
          <time dateTime={token.createdAt}>{formatTime(token.createdAt)}</time>
        </td>
        <td data-label="Expires">
          {token.expiresAt ? (
            <time dateTime={token.expiresAt}>{formatTime(token.expiresAt)}</time>
          ) : (
            'never'
          )}
        </td>
        <td data-label="State">
          {token.revokedAt ? (
            <span className="status status-idle">revoked {formatTime(token.revokedAt)}</span>
          ) : expired ? (
            <span className="status status-idle">expired</span>
          ) : (
            <span className="status status-working">active</span>
          )}
        </td>
        <td>
          <div className="row-actions">
            {!token.revokedAt && (
              <button
                className="button small danger-ghost"
                type="button"
                aria-label={`Revoke ${token.name}`}
                aria-expanded={confirming}
                onClick={() => setConfirming(!confirming)}
              >
                Revoke
              </button>
            )}
          </div>
        </td>
      </tr>
      {confirming && !token.revokedAt && (
        <ConfirmRow
          columns={TOKEN_COLUMNS.length}
          question={`Revoke ${token.name}? Scripts using it stop working within a second.`}
          confirmLabel="Confirm revocation"
          pending={revoke.isPending}
          error={revoke.error}
          errorPrefix="Could not revoke the token"
          onConfirm={() => revoke.mutate()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </>
  );
}
