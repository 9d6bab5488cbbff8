import { useEffect, useRef } from 'react';
import { useTask, useTaskEvents } from '../api/queries';
import { ErrorMessage } from '../ui/error-message';
import { livePreviewUrl, priorityLabel, stateLabel } from '../ui/labels';
import { formatTime } from '../ui/time';
import { OpenQuestion } from './open-question';
import { PullSummary } from './pull-summary';
import { TaskActions } from './task-actions';
import { Timeline } from './timeline';

/** Everything about one task, over the board; Escape or the backdrop closes it. */
export function TaskDrawer(props: {
  taskId: string;
  agentNames: ReadonlyMap<string, string>;
  onClose: () => void;
}) {
  const { taskId, onClose } = props;
  const task = useTask(taskId);
  const heading = useRef<HTMLHeadingElement>(null);
  const t = task.data;
  const preview = t ? livePreviewUrl(t) : null;
  // People who may not list agents still learn the agent's name from the events it sent.
  const events = useTaskEvents(props.taskId);
  const named = events.data?.find(
    (e) => e.data.actor.kind === 'agent' && e.data.actor.id === t?.assignedAgentId,
  )?.data.actor.name;
  const agentName = t?.assignedAgentId
    ? (props.agentNames.get(t.assignedAgentId) ?? named)
    : undefined;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  // Keyboard and screen-reader users land in the drawer, not behind it.
  useEffect(() => heading.current?.focus(), [t?.id]);

  return (
    <div className="drawer-layer">
      <div className="backdrop" onClick={onClose} aria-hidden="true" />
      <aside className="drawer" role="dialog" aria-modal="true" aria-labelledby="drawer-title">
        <div className="drawer-head">
          <h2 id="drawer-title" ref={heading} tabIndex={-1}>
            {t?.title ?? 'Task'}
          </h2>
          <button className="icon-button" type="button" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        <ErrorMessage error={task.error} prefix="Could not load the task" />
        {task.isPending && <p className="muted">Loading…</p>}
        {t && (
          <div className="drawer-body">
            <div className="drawer-state">
              <span className={`state-pill state-${t.state}`} data-state={t.state}>
                {stateLabel(t.state)}
              </span>
              <span className="muted">updated {formatTime(t.updatedAt)}</span>
            </div>
            {t.stuck && (
              <p className="error stuck-notice" role="alert">
                This task is stuck since {formatTime(t.stuck.since)}: {t.stuck.reason}. Nothing can
                change it until its workflow runs again; an operator sees it in the worker&apos;s
                log and at /api/health/workflows.
              </p>
            )}
            {t.state === 'needs_input' && <OpenQuestion task={t} agentName={agentName} />}
            <TaskActions task={t} />
            <dl className="facts">
              <dt>Agent</dt>
              <dd>{agentName ?? (t.assignedAgentId ? t.assignedAgentId : 'unassigned')}</dd>
              <dt>Created</dt>
              <dd>{formatTime(t.createdAt)}</dd>
              <dt>Priority</dt>
              <dd>
                {priorityLabel(t.priority) ?? 'normal'} ({t.priority})
              </dd>
              {t.branch && (
                <>
                  <dt>Branch</dt>
                  <dd>
                    <code>{t.branch}</code>
                  </dd>
                </>
              )}
              {t.prUrl && (
                <>
                  <dt>Pull request</dt>
                  <dd>
                    <a href={t.prUrl} target="_blank" rel="noreferrer">
                      {t.prNumber ? `#${t.prNumber}` : t.prUrl}
                    </a>
                  </dd>
                </>
              )}
            </dl>
            {preview && (
              <a className="button" href={preview} target="_blank" rel="noreferrer">
                View preview
              </a>
            )}
            <section aria-label="Description">
              <h3>Description</h3>
              {t.description ? (
                <p className="description">{t.description}</p>
              ) : (
                <p className="muted">No description.</p>
              )}
            </section>
            <PullSummary task={t} />
            {t.questions.length > 0 && (
              <section aria-label="Questions and answers">
                <h3>Questions and answers</h3>
                <ul className="qa">
                  {t.questions.map((q) => (
                    <li key={q.id}>
                      <p className="qa-question">
                        <strong>Q</strong> {q.question}
                      </p>
                      {q.answer !== null ? (
                        <p className="qa-answer">
                          <strong>A</strong> {q.answer}
                        </p>
                      ) : (
                        <p className="qa-waiting">waiting for an answer</p>
                      )}
                    </li>
                  ))}
                </ul>
              </section>
            )}
            <Timeline taskId={t.id} />
          </div>
        )}
      </aside>
    </div>
  );
}
