import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Api } from '../api/client';
import { keys } from '../api/queries';
import type { UserRecord, UserRole, UserWithPassword } from '../api/types';
import { useApi } from '../session/session';

export interface NewPerson {
  email: string;
  name: string;
  role: UserRole;
  projectIds: string[];
}

export interface PersonChange {
  role?: UserRole;
  projectIds?: string[];
  resetPassword?: true;
}

/**
 * A change to people's accounts, done once the list shows it. The signed-in administrator may
 * have changed their own role, so who they are is asked again too.
 */
function useAccountChange<V, R>(change: (api: Api, vars: V) => Promise<R>) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (vars: V) => change(api, vars),
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.users }),
        queryClient.invalidateQueries({ queryKey: keys.principal }),
      ]),
  });
}

const userPath = (id: string) => `/api/users/${encodeURIComponent(id)}`;

/** `POST /api/users`: the answer holds the person's first password. */
export const useAddPerson = () =>
  useAccountChange((api, person: NewPerson) => api.post<UserWithPassword>('/api/users', person));

/** `PATCH /api/users/:id`: with `resetPassword` the answer holds the new password. */
export const useChangePerson = (id: string) =>
  useAccountChange((api, change: PersonChange) =>
    api.patch<{ user: UserRecord; password?: string }>(userPath(id), change),
  );

/** `DELETE /api/users/:id`: the account is disabled and every session of theirs ends. */
export const useRemovePerson = (id: string) =>
  useAccountChange((api, _: void) => api.delete<{ user: UserRecord }>(userPath(id)));

/** `DELETE /api/users/:id/oidc`: the account no longer holds the person's identity at the provider. */
export const useUntiePerson = (id: string) =>
  useAccountChange((api, _: void) => api.delete<{ user: UserRecord }>(`${userPath(id)}/oidc`));
