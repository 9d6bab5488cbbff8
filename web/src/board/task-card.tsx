import type { Task } from '../api/types';
import { navigate, pathOf } from '../router';
import { livePreviewUrl, priorityLabel } from '../ui/labels';
import { formatTime, timeAgo } from '../ui/time';

/** A task on the board: what it is, who has it, how old it is, and what needs a look. */
export function TaskCard(props: {
  task: Task;
  agentName: string | undefined;
  now: number;
  picked: boolean;
  /** Absent for people who may not merge: approved tasks then show no checkbox. */
  onToggle: ((taskId: string) => void) | undefined;
}) {
  const { onToggle } = props;
  const { task, agentName, now } = props;
  const route = { name: 'board', projectId: task.projectId, taskId: task.id } as const;
  const priority = priorityLabel(task.priority);
  const preview = livePreviewUrl(task);

  return (
    <article className={`card${props.picked ? ' picked' : ''}`} data-task-id={task.id}>
      <div className="card-top">
        {task.state === 'approved' && onToggle && (
          <input
            type="checkbox"
            className="card-check"
            checked={props.picked}
            onChange={() => onToggle(task.id)}
            aria-label={`Select “${task.title}” for the merge to staging`}
          />
        )}
        <a
          className="card-title"
          href={pathOf(route)}
          onClick={(e) => {
            e.preventDefault();
            navigate(route);
          }}
        >
          {task.title}
        </a>
      </div>
      {(task.stuck || task.state === 'needs_input' || preview || priority) && (
        <div className="badges">
          {task.stuck && (
            <span className="badge badge-stuck" title={task.stuck.reason}>
              stuck
            </span>
          )}
          {task.state === 'needs_input' && (
            <span className="badge badge-attention">needs input</span>
          )}
          {preview && <span className="badge badge-preview">preview</span>}
          {priority && <span className={`badge badge-priority-${priority}`}>{priority}</span>}
        </div>
      )}
      <div className="card-meta">
        <span className={agentName ? 'agent' : 'agent unassigned'}>
          {agentName ?? (task.assignedAgentId ? 'an agent' : 'unassigned')}
        </span>
        <time dateTime={task.createdAt} title={`Created ${formatTime(task.createdAt)}`}>
          {timeAgo(task.createdAt, now)}
        </time>
      </div>
    </article>
  );
}
