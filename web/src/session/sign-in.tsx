import { useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, createApi, errorText } from '../api/client';
import type { Principal } from '../api/types';
import { useSession } from './session';

/** The first screen: the admin token, checked with `GET /api/session` before it is kept. */
export function SignIn() {
  const { signIn, notice } = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const candidate = token.trim();
    if (!candidate) {
      setError('Paste the admin token first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { principal } = await createApi(candidate, () => undefined).get<{
        principal: Principal;
      }>('/api/session');
      if (principal.kind !== 'admin') {
        setError(
          `This is the token of the agent “${principal.name}”. Agents work through MCP; the board needs the admin token.`,
        );
        return;
      }
      signIn(candidate);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The server does not accept this token. Check that you copied all of it.'
          : `Could not sign in: ${errorText(err)}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form className="sign-in-card" onSubmit={(e) => void submit(e)}>
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          aiworker
        </div>
        <h1>Sign in to the board</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label className="field">
          <span>Admin token</span>
          <input
            type="password"
            name="token"
            autoComplete="current-password"
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="Paste the admin token"
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button className="button primary wide" type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">
          <code>npm start</code> writes it to <code>.data/admin-token</code>; on a server it is{' '}
          <code>AIWORKER_ADMIN_TOKEN</code>.
        </p>
      </form>
    </main>
  );
}
