import { useProjects } from '../api/queries';

/** A checkbox per project the signed-in person can see; ids of others in `chosen` are kept. */
export function ProjectChoices(props: {
  legend: string;
  hint: string;
  chosen: string[];
  onChange: (projectIds: string[]) => void;
}) {
  const { legend, hint, chosen, onChange } = props;
  const projects = useProjects().data ?? [];
  return (
    <fieldset className="project-choices">
      <legend>{legend}</legend>
      <p className="hint">{hint}</p>
      {projects.length === 0 && <p className="muted">There are no projects yet.</p>}
      {projects.map((project) => (
        <label key={project.id} className="check">
          <input
            type="checkbox"
            checked={chosen.includes(project.id)}
            onChange={(e) =>
              onChange(
                e.target.checked
                  ? [...chosen, project.id]
                  : chosen.filter((id) => id !== project.id),
              )
            }
          />
          {project.name}
        </label>
      ))}
    </fieldset>
  );
}
