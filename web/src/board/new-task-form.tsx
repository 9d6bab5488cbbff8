import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type { Task } from '../api/types';
import { useApi } from '../session/session';
import { ErrorMessage } from '../ui/error-message';
import { PRIORITIES } from '../ui/labels';

/**
 * `POST /api/tasks`. The API is the one judge of what is valid (it names the field that is
 * wrong), so the form sends what it has and shows the answer.
 */
export function NewTaskForm({ projectId, onClose }: { projectId: string; onClose: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [priority, setPriority] = useState(0);
  const create = useMutation({
    mutationFn: () =>
      api.post<Task & { taskId: string }>('/api/tasks', {
        projectId,
        title,
        description,
        priority,
      }),
    onSuccess: (task) => {
      queryClient.setQueryData<Task[]>(keys.tasks(projectId), (tasks) =>
        tasks && !tasks.some((t) => t.id === task.id) ? [...tasks, task] : tasks,
      );
      void queryClient.invalidateQueries({ queryKey: keys.tasks(projectId) });
      setTitle('');
      setDescription('');
      setPriority(0);
      onClose();
    },
  });

  return (
    <form
      className="panel new-task"
      aria-label="New task"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h2>New task</h2>
      <label className="field">
        <span>Title</span>
        <input
          name="title"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          placeholder="What should be done"
          autoFocus
        />
      </label>
      <label className="field">
        <span>Description</span>
        <textarea
          name="description"
          rows={4}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          placeholder="Context, acceptance criteria, links: what the agent needs to know"
        />
      </label>
      <label className="field narrow">
        <span>Priority</span>
        <select
          name="priority"
          value={priority}
          onChange={(e) => setPriority(Number(e.target.value))}
        >
          {PRIORITIES.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <ErrorMessage error={create.error} prefix="Could not create the task" />
      <div className="form-buttons">
        <button className="button primary" type="submit" disabled={create.isPending}>
          {create.isPending ? 'Adding…' : 'Add to backlog'}
        </button>
        <button className="button ghost" type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
