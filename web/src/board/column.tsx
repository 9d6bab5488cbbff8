import { useState } from 'react';
import type { Task, TaskState } from '../api/types';
import { TaskCard } from './task-card';

/** One state's column; `collapsible` ones (cancelled) start folded. */
export function Column(props: {
  state: TaskState;
  label: string;
  tasks: Task[];
  agentNames: ReadonlyMap<string, string>;
  now: number;
  picked: ReadonlySet<string>;
  onToggle: ((taskId: string) => void) | undefined;
  collapsible?: boolean;
}) {
  const { state, label, tasks, collapsible } = props;
  const [open, setOpen] = useState(!collapsible);
  const headingId = `column-${state}`;

  return (
    <section
      className={`column column-${state}${open ? '' : ' collapsed'}`}
      data-column={state}
      aria-labelledby={headingId}
    >
      <header className="column-head">
        <h2 id={headingId} title={label}>
          {label}
        </h2>
        <span className="count" aria-label={`${tasks.length} tasks`}>
          {tasks.length}
        </span>
        {collapsible && (
          <button
            className="icon-button"
            type="button"
            aria-expanded={open}
            aria-label={
              open ? `Hide ${label.toLowerCase()} tasks` : `Show ${label.toLowerCase()} tasks`
            }
            onClick={() => setOpen((v) => !v)}
          >
            {open ? '−' : '+'}
          </button>
        )}
      </header>
      {open && (
        <div className="column-body">
          {tasks.length === 0 && <p className="empty">No tasks</p>}
          {tasks.map((t) => (
            <TaskCard
              key={t.id}
              task={t}
              agentName={t.assignedAgentId ? props.agentNames.get(t.assignedAgentId) : undefined}
              now={props.now}
              picked={props.picked.has(t.id)}
              onToggle={props.onToggle}
            />
          ))}
        </div>
      )}
    </section>
  );
}
