import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type { ProjectRecord } from '../api/types';
import { navigate } from '../router';
import { useApi } from '../session/session';
import { ErrorMessage } from '../ui/error-message';

/** `POST /api/projects {name}`; opens the new project's board. */
export function NewProjectForm(props: { onCreated?: () => void; onCancel?: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: (projectName: string) =>
      api.post<ProjectRecord>('/api/projects', { name: projectName }),
    onSuccess: async (project) => {
      await queryClient.invalidateQueries({ queryKey: keys.projects });
      setName('');
      props.onCreated?.();
      navigate({ name: 'board', projectId: project.id });
    },
  });

  return (
    <form
      className="inline-form"
      aria-label="New project"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate(name);
      }}
    >
      <label className="field grow">
        <span>Project name</span>
        <input
          name="project-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. shop"
          autoFocus
        />
      </label>
      <div className="form-buttons">
        <button className="button primary" type="submit" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create project'}
        </button>
        {props.onCancel && (
          <button className="button ghost" type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
      <ErrorMessage error={create.error} prefix="Could not create the project" />
    </form>
  );
}
