import { createContext, useCallback, useContext, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { createApi } from '../api/client';
import type { Api } from '../api/client';

const TOKEN_KEY = 'aiworker.token';

interface Session {
  /** The signed-in token, or null on the sign-in page. */
  token: string | null;
  /** Why the person was sent back to sign-in, if they did not sign out themselves. */
  notice: string | null;
  api: Api | null;
  signIn: (token: string) => void;
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

/** Holds the token (kept in localStorage so a reload stays signed in) and the API client made with it. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setToken] = useState<string | null>(storedToken);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback(
    (why?: string) => {
      localStorage.removeItem(TOKEN_KEY);
      setToken(null);
      setNotice(why ?? null);
      // Nothing read with the old token may show up for the next person.
      queryClient.clear();
    },
    [queryClient],
  );

  const signIn = useCallback((next: string) => {
    localStorage.setItem(TOKEN_KEY, next);
    setNotice(null);
    setToken(next);
  }, []);

  const api = useMemo(
    () =>
      token
        ? createApi(token, () => signOut('The server no longer accepts your token. Sign in again.'))
        : null,
    [token, signOut],
  );

  const value = useMemo(
    () => ({ token, notice, api, signIn, signOut }),
    [token, notice, api, signIn, signOut],
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
