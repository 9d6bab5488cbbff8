import { useCallback, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import { useApi } from '../session/session';

const storageKey = (projectId: string) => `aiworker.merge.${projectId}`;

/**
 * The project's latest merge: started with `POST /api/merge`, remembered across reloads so the
 * person can still see how it ended, until they dismiss it.
 */
export function useMergeTracking(projectId: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  // The board is mounted per project (keyed by its id), so this is read once per project.
  const [mergeId, setMergeId] = useState(() => localStorage.getItem(storageKey(projectId)));

  const remember = useCallback(
    (id: string | null) => {
      if (id) localStorage.setItem(storageKey(projectId), id);
      else localStorage.removeItem(storageKey(projectId));
      setMergeId(id);
    },
    [projectId],
  );

  const start = useMutation({
    mutationFn: (taskIds: string[]) => api.post<{ mergeId: string }>('/api/merge', { taskIds }),
    onSuccess: ({ mergeId: id }) => {
      remember(id);
      void queryClient.invalidateQueries({ queryKey: keys.merge(id) });
      void queryClient.invalidateQueries({ queryKey: keys.tasks(projectId) });
    },
  });

  return { mergeId, start, dismiss: () => remember(null) };
}
