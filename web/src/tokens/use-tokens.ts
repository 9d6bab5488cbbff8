import { useMutation, useQueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type { CreatedToken, PersonalTokenRecord } from '../api/types';
import { useApi } from '../session/session';

export interface NewToken {
  name: string;
  expiresAt?: string;
  projectIds?: string[];
}

/** A change to the person's tokens, done once the list shows it. */
function useTokenChange<V, R>(change: (vars: V) => Promise<R>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.tokens }),
  });
}

/** `POST /api/tokens`: the answer holds the token itself, shown once. */
export function useCreateToken() {
  const api = useApi();
  return useTokenChange((token: NewToken) => api.post<CreatedToken>('/api/tokens', token));
}

/** `DELETE /api/tokens/:id`: every API process refuses the token within a second. */
export function useRevokeToken(id: string) {
  const api = useApi();
  return useTokenChange(() =>
    api.delete<PersonalTokenRecord>(`/api/tokens/${encodeURIComponent(id)}`),
  );
}
