import type { DeliveredEvent } from '../../../contracts/events';
import { useTaskEvents } from '../api/queries';
import type { TimelineEvent } from '../api/types';
import { ErrorMessage } from '../ui/error-message';
import { stateLabel } from '../ui/labels';
import { formatTime } from '../ui/time';

/** What happened to the task, oldest first, in words. */
export function Timeline({ taskId }: { taskId: string }) {
  const events = useTaskEvents(taskId);
  return (
    <section aria-label="Timeline">
      <h3>Timeline</h3>
      <ErrorMessage error={events.error} prefix="Could not load the timeline" />
      {events.isPending && <p className="muted">Loading…</p>}
      {events.data?.length === 0 && <p className="muted">Nothing yet.</p>}
      <ol className="timeline">
        {events.data?.map((e) => (
          <li key={e.data.seq} className={`timeline-${e.type.replace(':', '-')}`}>
            <span className="timeline-text">{describe(e)}</span>
            <time dateTime={e.data.at}>{formatTime(e.data.at)}</time>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The name of whoever did it, when it was someone: a person, the operator or an agent. */
function who(e: TimelineEvent): string | null {
  const actor = (e.data as Partial<DeliveredEvent>).actor;
  if (!actor || actor.kind === 'system') return null;
  return actor.name;
}

function describe(e: TimelineEvent): string {
  const { type, data } = e;
  const d = data as Partial<DeliveredEvent<'task:ready_to_test'>> & Record<string, unknown>;
  const by = who(e);
  // The server may know event types this build does not.
  const name: string = type;
  switch (type) {
    case 'task:created':
      return by ? `${by} created the task` : 'Created';
    case 'task:status_changed': {
      const moved = `${stateLabel(String(d.oldState))} → ${stateLabel(String(d.newState))}`;
      if (by && d.newState === 'approved') return `${by} approved (${moved})`;
      if (by && d.newState === 'cancelled') return `${by} cancelled the task (${moved})`;
      return moved;
    }
    case 'task:needs_input':
      return by ? `${by} asked: ${String(d.question)}` : `Question: ${String(d.question)}`;
    case 'task:question_answered':
      return by ? `${by} answered the question` : 'Question answered';
    case 'task:input_reminder':
      return 'Reminder: the question is still waiting for an answer';
    case 'task:changes_requested':
      return by
        ? `${by} requested changes: ${String(d.feedback)}`
        : `Changes requested: ${String(d.feedback)}`;
    case 'task:ready_to_test':
      return d.previewUrl ? `Ready to test at ${d.previewUrl}` : 'Ready to test';
    case 'task:progress':
      return `${by ?? 'Progress'}: ${String(d.message)}`;
    case 'task:branch_created':
      return `Branch ${String(d.branch)} created${by ? ` by ${by}` : ''}`;
    case 'task:pr_opened':
      return `Pull request #${String(d.prNumber)} opened${by ? ` by ${by}` : ''}`;
    case 'task:delivery_failed':
      return `${String(d.step).replace(/_/g, ' ')} failed: ${String(d.message)}`;
    case 'task:merge_started':
      return by ? `${by} started merging it into staging` : 'Merging into staging';
    case 'task:merge_conflict':
      return `Merge conflict in ${(d.files as string[] | undefined)?.join(', ') ?? 'some files'}`;
    case 'task:merge_rolled_back':
      return `Merge rolled back: ${String(d.reason)}`;
    case 'task:stuck':
      return `Stuck: ${String(d.reason)}`;
    case 'task:recovered':
      return 'Recovered: its workflow runs again';
    case 'preview:removed':
      return `Preview removed: ${String(d.reason)}`;
    case 'agent:status':
      return `${by ?? 'The agent'} ${d.status === 'working' ? 'started' : 'stopped'} working on it`;
    default:
      // Event types added after this board was built: their name, and their message if any.
      return typeof d.message === 'string' ? `${name}: ${d.message}` : name;
  }
}
