import { usePull } from '../api/queries';
import type { Task } from '../api/types';
import { ErrorMessage } from '../ui/error-message';

/** Files changed by the task's pull request on the local forge; nothing when there is no summary. */
export function PullSummary({ task }: { task: Task }) {
  const pull = usePull(task.projectId, task.prNumber);
  if (pull.error)
    return <ErrorMessage error={pull.error} prefix="Could not load the diff summary" />;
  const pr = pull.data;
  if (!pr) return null;
  return (
    <section aria-label="Pull request">
      <h3>
        Pull request #{pr.number} <span className="muted">({pr.state})</span>
      </h3>
      <p className="muted">
        <code>{pr.head}</code> → <code>{pr.base}</code> · {pr.filesChanged}{' '}
        {pr.filesChanged === 1 ? 'file' : 'files'} ·{' '}
        <span className="additions">+{pr.additions}</span>{' '}
        <span className="deletions">−{pr.deletions}</span>
      </p>
      <ul className="files">
        {pr.files.map((f) => (
          <li key={f.path}>
            <code>{f.path}</code>
            <span>
              <span className="additions">+{f.additions}</span>{' '}
              <span className="deletions">−{f.deletions}</span>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
