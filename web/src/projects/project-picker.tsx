import type { ProjectRecord } from '../api/types';
import { navigate } from '../router';

/** Switches the board to another project. */
export function ProjectPicker(props: { projects: ProjectRecord[]; projectId: string | null }) {
  const { projects, projectId } = props;
  return (
    <label className="project-picker">
      <span className="visually-hidden">Project</span>
      <select
        value={projectId ?? ''}
        onChange={(e) => navigate({ name: 'board', projectId: e.target.value })}
      >
        {projectId === null && (
          <option value="" disabled>
            Choose a project
          </option>
        )}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </label>
  );
}
