import { useState } from 'react';
import type { Task, TaskState } from '../api/types';
import { useCanWork } from '../session/can-work';
import { ErrorMessage } from '../ui/error-message';
import { useTaskAction } from './use-task-action';

/** Which of the people's actions a state allows (the task workflow refuses the others). */
const ALLOWED: Record<'approve' | 'requestChanges' | 'cancel', readonly TaskState[]> = {
  approve: ['ready_to_test'],
  requestChanges: ['ready_to_test', 'approved'],
  cancel: [
    'backlog',
    'in_progress',
    'needs_input',
    'ready_to_test',
    'changes_requested',
    'approved',
  ],
};

type Open = 'none' | 'changes' | 'cancel';

/** Approve, request changes, cancel: only those the task's state and the person's role allow. */
export function TaskActions({ task }: { task: Task }) {
  const approve = useTaskAction(task, 'approve');
  const requestChanges = useTaskAction(task, 'request-changes');
  const cancel = useTaskAction(task, 'cancel');
  const [open, setOpen] = useState<Open>('none');
  const [feedback, setFeedback] = useState('');
  const [reason, setReason] = useState('');

  const mayWork = useCanWork(task.projectId);
  const can = (what: keyof typeof ALLOWED) => mayWork && ALLOWED[what].includes(task.state);
  if (!can('approve') && !can('requestChanges') && !can('cancel')) return null;
  const busy = approve.isPending || requestChanges.isPending || cancel.isPending;

  return (
    <section className="actions" aria-label="Actions">
      <div className="action-buttons">
        {can('approve') && (
          <button
            className="button primary"
            type="button"
            disabled={busy}
            onClick={() => approve.mutate({})}
          >
            {approve.isPending ? 'Approving…' : 'Approve'}
          </button>
        )}
        {can('requestChanges') && (
          <button
            className="button"
            type="button"
            aria-expanded={open === 'changes'}
            onClick={() => setOpen(open === 'changes' ? 'none' : 'changes')}
          >
            Request changes
          </button>
        )}
        {can('cancel') && (
          <button
            className="button danger-ghost"
            type="button"
            aria-expanded={open === 'cancel'}
            onClick={() => setOpen(open === 'cancel' ? 'none' : 'cancel')}
          >
            Cancel task
          </button>
        )}
      </div>
      <ErrorMessage error={approve.error} prefix="Could not approve" />
      {open === 'changes' && (
        <form
          className="action-form"
          onSubmit={(e) => {
            e.preventDefault();
            requestChanges.mutate(
              { feedback },
              { onSuccess: () => (setFeedback(''), setOpen('none')) },
            );
          }}
        >
          <label className="field">
            <span>What should change</span>
            <textarea
              name="feedback"
              rows={3}
              value={feedback}
              onChange={(e) => setFeedback(e.target.value)}
              placeholder="The agent gets this with the task when it picks it up again"
            />
          </label>
          <ErrorMessage error={requestChanges.error} prefix="Could not request changes" />
          <div className="form-buttons">
            <button className="button primary" type="submit" disabled={busy}>
              Send feedback
            </button>
          </div>
        </form>
      )}
      {open === 'cancel' && (
        <form
          className="action-form"
          onSubmit={(e) => {
            e.preventDefault();
            const why = reason.trim();
            cancel.mutate(why ? { reason: why } : {}, { onSuccess: () => setOpen('none') });
          }}
        >
          <label className="field">
            <span>Reason (optional)</span>
            <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <ErrorMessage error={cancel.error} prefix="Could not cancel" />
          <div className="form-buttons">
            <button className="button danger" type="submit" disabled={busy}>
              Cancel this task
            </button>
            <button className="button ghost" type="button" onClick={() => setOpen('none')}>
              Keep it
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
