import { useState } from 'react';
import { useTokens } from '../api/queries';
import { ShownOnce } from '../people/shown-once';
import type { Secret } from '../people/shown-once';
import { ErrorMessage } from '../ui/error-message';
import { useNow } from '../ui/time';
import { NewTokenForm } from './new-token-form';
import { TOKEN_COLUMNS, TokenRow } from './token-row';

/** A signed-in person's personal access tokens: for scripts and the CLI, acting as them. */
export function TokensView() {
  const tokens = useTokens();
  const now = useNow();
  const [token, setToken] = useState<Secret | null>(null);
  const list = tokens.data ?? [];

  return (
    <section className="account-page" aria-labelledby="tokens-title">
      <div className="toolbar">
        <h1 className="page-title" id="tokens-title">
          Personal access tokens
        </h1>
        <span className="muted">for scripts and the CLI; each acts as you</span>
      </div>
      {token && (
        <ShownOnce secret={token} onDone={() => setToken(null)}>
          Scripts send it in the header <code>Authorization: Bearer &lt;token&gt;</code>.
        </ShownOnce>
      )}
      <NewTokenForm onCreated={setToken} />
      <ErrorMessage error={tokens.error} prefix="Could not load your tokens" />
      {tokens.isPending && <p className="muted page-message">Loading tokens…</p>}
      {tokens.data && list.length === 0 && <p className="muted page-message">No tokens yet.</p>}
      {list.length > 0 && (
        <table className="accounts">
          <thead>
            <tr>
              {TOKEN_COLUMNS.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <TokenRow key={t.id} token={t} now={now} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
