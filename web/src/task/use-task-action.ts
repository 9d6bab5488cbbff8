import { useMutation, useQueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type { Task } from '../api/types';
import { useApi } from '../session/session';

export type TaskAction = 'respond' | 'approve' | 'request-changes' | 'cancel';

/**
 * One of the people's transitions (`POST /api/tasks/:id/<action>`). The API answers with the task
 * as it now is, so the drawer shows it at once; the board follows through the refetch.
 */
export function useTaskAction(task: Task, action: TaskAction) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      api.post<Task>(`/api/tasks/${encodeURIComponent(task.id)}/${action}`, body),
    onSuccess: (updated) => {
      queryClient.setQueryData(keys.task(task.id), updated);
      queryClient.setQueryData<Task[]>(keys.tasks(task.projectId), (tasks) =>
        tasks?.map((t) => (t.id === updated.id ? { ...t, ...updated } : t)),
      );
      void queryClient.invalidateQueries({ queryKey: keys.tasks(task.projectId) });
      void queryClient.invalidateQueries({ queryKey: keys.taskEvents(task.id) });
    },
  });
}
