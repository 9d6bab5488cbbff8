import { useMemo, useState } from 'react';
import { useAgents, useTasks } from '../api/queries';
import type { ProjectRecord, Task, TaskState } from '../api/types';
import { MergeStatus } from '../merge/merge-status';
import { useMergeTracking } from '../merge/use-merge-tracking';
import { navigate } from '../router';
import { useCanWork } from '../session/can-work';
import { TaskDrawer } from '../task/task-drawer';
import { ErrorMessage } from '../ui/error-message';
import { COLUMNS } from '../ui/labels';
import { useNow } from '../ui/time';
import { useToast } from '../ui/toasts';
import { Column } from './column';
import { ImportTasks } from './import-tasks';
import { NewTaskForm } from './new-task-form';

/** The kanban board of one project, with the selected task's drawer over it. */
export function Board({ project, taskId }: { project: ProjectRecord; taskId?: string }) {
  const tasks = useTasks(project.id);
  const agents = useAgents();
  const toast = useToast();
  const now = useNow();
  const [adding, setAdding] = useState(false);
  const [importing, setImporting] = useState(false);
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const merge = useMergeTracking(project.id);
  const mayWork = useCanWork(project.id);

  const byState = useMemo(() => {
    const groups = new Map<TaskState, Task[]>(COLUMNS.map((c) => [c.state, []]));
    for (const t of tasks.data ?? []) groups.get(t.state)?.push(t);
    return groups;
  }, [tasks.data]);
  const agentNames = useMemo(
    () => new Map((agents.data ?? []).map((a) => [a.id, a.name])),
    [agents.data],
  );
  // Only approved tasks can be merged: a task that moved on drops out of the selection.
  const selected = (byState.get('approved') ?? []).filter((t) => picked.has(t.id));

  const toggle = (id: string) =>
    setPicked((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const startMerge = () =>
    merge.start.mutate(
      selected.map((t) => t.id),
      {
        onSuccess: () => setPicked(new Set()),
        onError: (err) =>
          toast({ kind: 'error', title: 'Could not start the merge', body: err.message }),
      },
    );

  return (
    <div className="board-page">
      <div className="toolbar">
        <h1 className="page-title">{project.name}</h1>
        <span className="spacer" />
        {mayWork && selected.length > 0 && (
          <div className="merge-bar">
            <span>
              {selected.length} approved {selected.length === 1 ? 'task' : 'tasks'} selected
            </span>
            <button
              className="button primary"
              type="button"
              disabled={merge.start.isPending}
              onClick={startMerge}
            >
              {merge.start.isPending ? 'Starting merge…' : 'Merge to staging'}
            </button>
          </div>
        )}
        {mayWork && (
          <button
            className="button"
            type="button"
            aria-expanded={importing}
            onClick={() => setImporting((v) => !v)}
          >
            Import tasks
          </button>
        )}
        {mayWork && (
          <button
            className="button primary"
            type="button"
            aria-expanded={adding}
            onClick={() => setAdding((v) => !v)}
          >
            New task
          </button>
        )}
      </div>
      {adding && <NewTaskForm projectId={project.id} onClose={() => setAdding(false)} />}
      {importing && <ImportTasks projectId={project.id} onClose={() => setImporting(false)} />}
      {merge.mergeId && (
        <MergeStatus mergeId={merge.mergeId} tasks={tasks.data ?? []} onDismiss={merge.dismiss} />
      )}
      <ErrorMessage error={tasks.error} prefix="Could not load the tasks" />
      {tasks.isPending && <p className="muted page-message">Loading tasks…</p>}
      <div className="columns">
        {COLUMNS.map((c) => (
          <Column
            key={c.state}
            state={c.state}
            label={c.label}
            tasks={byState.get(c.state) ?? []}
            agentNames={agentNames}
            now={now}
            picked={picked}
            onToggle={mayWork ? toggle : undefined}
            collapsible={c.state === 'cancelled'}
          />
        ))}
      </div>
      {taskId && (
        <TaskDrawer
          key={taskId}
          taskId={taskId}
          agentNames={agentNames}
          onClose={() => navigate({ name: 'board', projectId: project.id })}
        />
      )}
    </div>
  );
}
