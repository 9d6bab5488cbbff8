import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { createApi } from '../api/client';
import type { Api } from '../api/client';
import type { Principal } from '../api/types';

const TOKEN_KEY = 'aiworker.token';

/**
 * How the board is signed in: a person with their email and password (the session lives in an
 * httpOnly cookie the board never sees), or the operator with the admin token (kept in
 * localStorage so a reload stays signed in).
 */
type Credential = { kind: 'token'; token: string } | { kind: 'cookie'; principal: Principal };

interface Session {
  /** Whether the board is signed in; null while a session cookie is being checked. */
  signedIn: boolean | null;
  /** The admin token when signed in with it (for the socket), else null. */
  token: string | null;
  /** The signed-in person when signed in with a password. */
  person: Principal | null;
  /** Why the person was sent back to sign-in, if they did not sign out themselves. */
  notice: string | null;
  api: Api | null;
  signIn: (token: string) => void;
  signedInWithPassword: (principal: Principal) => void;
  signOut: (notice?: string) => void;
}

const SessionContext = createContext<Session | null>(null);

function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Holds how the board is signed in and the API client made with it. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [credential, setCredential] = useState<Credential | null>(() => {
    const token = storedToken();
    return token ? { kind: 'token', token } : null;
  });
  // Without a kept token, a session cookie may still be there: ask once who it belongs to.
  const [checking, setChecking] = useState(() => storedToken() === null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    if (!checking) return;
    let cancelled = false;
    createApi(null, () => undefined)
      .get<{ principal: Principal }>('/api/session')
      .then(
        ({ principal }) => {
          if (!cancelled && principal.kind === 'user') setCredential({ kind: 'cookie', principal });
        },
        () => undefined,
      )
      .finally(() => {
        if (!cancelled) setChecking(false);
      });
    return () => {
      cancelled = true;
    };
  }, [checking]);

  const signOut = useCallback(
    (why?: string) => {
      localStorage.removeItem(TOKEN_KEY);
      // Ends the session on the server too (everywhere: sessions live in Redis).
      if (credential?.kind === 'cookie') {
        void fetch('/api/auth/logout', { method: 'POST' }).catch(() => undefined);
      }
      setCredential(null);
      setNotice(why ?? null);
      // Nothing read by the previous person may show up for the next one.
      queryClient.clear();
    },
    [queryClient, credential],
  );

  const signIn = useCallback((next: string) => {
    localStorage.setItem(TOKEN_KEY, next);
    setNotice(null);
    setCredential({ kind: 'token', token: next });
  }, []);

  const signedInWithPassword = useCallback((principal: Principal) => {
    setNotice(null);
    setCredential({ kind: 'cookie', principal });
  }, []);

  const token = credential?.kind === 'token' ? credential.token : null;
  const api = useMemo(
    () =>
      credential
        ? createApi(token, () =>
            signOut(
              token
                ? 'The server no longer accepts your token. Sign in again.'
                : 'Your session has ended. Sign in again.',
            ),
          )
        : null,
    [credential, token, signOut],
  );

  const value = useMemo(
    () => ({
      signedIn: credential ? true : checking ? null : false,
      token,
      person: credential?.kind === 'cookie' ? credential.principal : null,
      notice,
      api,
      signIn,
      signedInWithPassword,
      signOut,
    }),
    [credential, checking, token, notice, api, signIn, signedInWithPassword, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

/** The API client of the signed-in person; only for components shown after sign-in. */
export function useApi(): Api {
  const { api } = useSession();
  if (!api) throw new Error('useApi before sign-in');
  return api;
}
