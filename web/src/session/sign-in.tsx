import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, createApi, errorText } from '../api/client';
import type { Principal } from '../api/types';
import { useSession } from './session';

/**
 * The first screen: a person's email and password (a session cookie), or, for the operator, the
 * admin token (checked with `GET /api/session` before it is kept).
 */
export function SignIn() {
  const { notice } = useSession();
  const [withToken, setWithToken] = useState(false);
  const [singleSignOn, setSingleSignOn] = useState(false);
  // `npm start` prints `/#first-admin=<token>` while nobody has an account.
  const [firstAdmin] = useState(() => {
    const match = /^#first-admin=([\w-]+)$/.exec(window.location.hash);
    return match ? match[1]! : null;
  });
  // A single sign-on that failed comes back as `/#sign-in-error=<why>`; shown once.
  const [ssoError] = useState(() => {
    const match = /^#sign-in-error=(.*)$/.exec(window.location.hash);
    if (!match) return null;
    window.history.replaceState(null, '', window.location.pathname);
    return decodeURIComponent(match[1]!);
  });
  // The server says whether people may sign in with their organisation's OpenID provider.
  useEffect(() => {
    let cancelled = false;
    createApi(null, () => undefined)
      .get<{ oidc: boolean }>('/api/auth/methods')
      .then(
        (methods) => {
          if (!cancelled) setSingleSignOn(methods.oidc);
        },
        () => undefined,
      );
    return () => {
      cancelled = true;
    };
  }, []);
  return (
    <main className="sign-in">
      <div className="sign-in-card">
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
        {ssoError && (
          <p className="error" role="alert">
            Single sign-on did not work: {ssoError}
          </p>
        )}
        {firstAdmin ? (
          <FirstAdminForm token={firstAdmin} />
        ) : withToken ? (
          <TokenForm />
        ) : (
          <PasswordForm />
        )}
        {singleSignOn && !withToken && !firstAdmin && (
          <a className="button wide" href="/api/auth/oidc/start">
            Sign in with single sign-on
          </a>
        )}
        <button
          className="button ghost wide"
          type="button"
          onClick={() => setWithToken(!withToken)}
        >
          {withToken ? 'Use email and password' : 'Use the admin token'}
        </button>
      </div>
    </main>
  );
}

/** The first administrator's account, from the one-time link; its password is shown once. */
function FirstAdminForm({ token }: { token: string }) {
  const { signedInWithPassword } = useSession();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<{ password: string; principal: Principal } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const api = createApi(null, () => undefined);
      const { password } = await api.post<{ password: string }>('/api/auth/first-admin', {
        token,
        email: email.trim(),
        name: name.trim(),
      });
      const { principal } = await api.get<{ principal: Principal }>('/api/session');
      window.history.replaceState(null, '', '/');
      setMade({ password, principal });
    } catch (err) {
      setError(`Could not create the account: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };

  if (made) {
    return (
      <div className="first-admin">
        <p>
          You are the first administrator. Your password, shown only now (keep it in your password
          manager):
        </p>
        <p>
          <code aria-label="Your password">{made.password}</code>
        </p>
        <button
          className="button primary wide"
          type="button"
          onClick={() => signedInWithPassword(made.principal)}
        >
          Continue to the board
        </button>
      </div>
    );
  }
  return (
    <form onSubmit={(e) => void submit(e)}>
      <p className="hint">
        Nobody has an account yet: this link makes you the first administrator.
      </p>
      <label className="field">
        <span>Your name</span>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="field">
        <span>Email</span>
        <input
          type="email"
          required
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </label>
      <Submit error={error} busy={busy} label="Create my account" busyLabel="Creating…" />
    </form>
  );
}

function PasswordForm() {
  const { signedInWithPassword } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const api = createApi(null, () => undefined);
      await api.post('/api/auth/login', { email: email.trim(), password });
      const { principal } = await api.get<{ principal: Principal }>('/api/session');
      signedInWithPassword(principal);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'Wrong email or password.'
          : `Could not sign in: ${errorText(err)}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)}>
      <label className="field">
        <span>Email</span>
        <input
          type="email"
          name="email"
          autoComplete="username"
          autoFocus
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Password</span>
        <input
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <Submit error={error} busy={busy} label="Sign in" busyLabel="Checking…" />
      <p className="hint">
        An administrator creates your account and gives you its first password.
      </p>
    </form>
  );
}

function TokenForm() {
  const { signIn } = useSession();
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
      if (principal.kind === 'agent') {
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
    <form onSubmit={(e) => void submit(e)}>
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
      <Submit error={error} busy={busy} label="Sign in" busyLabel="Checking…" />
      <p className="hint">
        The operator&apos;s break-glass credential: <code>npm start</code> writes it to{' '}
        <code>.data/admin-token</code>; on a server it is <code>AIWORKER_ADMIN_TOKEN</code>.
      </p>
    </form>
  );
}

/** The end of each sign-in form: its error, if any, and its button. */
function Submit(props: { error: string | null; busy: boolean; label: string; busyLabel: string }) {
  return (
    <>
      {props.error && (
        <p className="error" role="alert">
          {props.error}
        </p>
      )}
      <button className="button primary wide" type="submit" disabled={props.busy}>
        {props.busy ? props.busyLabel : props.label}
      </button>
    </>
  );
}
