import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { eventTypeName, replayEach } from '../replay/corpus';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** What matters of an event when reading why a history no longer replays. */
function detail(a: HistoryEvent): string {
  const activity = a.activityTaskScheduledEventAttributes?.activityType?.name;
  if (activity) return activity;
  const scheduled =
    a.activityTaskStartedEventAttributes?.scheduledEventId ??
    a.activityTaskCompletedEventAttributes?.scheduledEventId ??
    a.workflowTaskStartedEventAttributes?.scheduledEventId ??
    a.workflowTaskCompletedEventAttributes?.scheduledEventId ??
    a.workflowTaskTimedOutEventAttributes?.scheduledEventId ??
    a.workflowTaskFailedEventAttributes?.scheduledEventId;
  const flags = a.workflowTaskCompletedEventAttributes?.sdkMetadata?.langUsedFlags;
  if (scheduled != null) {
    return `of #${String(scheduled)}${flags?.length ? ` flags ${flags.join(',')}` : ''}`;
  }
  const accepted = a.workflowExecutionUpdateAcceptedEventAttributes;
  if (accepted) {
    return (
      `${accepted.acceptedRequest?.input?.name ?? '?'} ` +
      `sequenced after #${String(accepted.acceptedRequestSequencingEventId)}`
    );
  }
  const timer =
    a.timerStartedEventAttributes?.timerId ??
    a.timerFiredEventAttributes?.timerId ??
    a.timerCanceledEventAttributes?.timerId;
  if (timer) return `timer ${timer}`;
  if (a.workflowExecutionSignaledEventAttributes) {
    return a.workflowExecutionSignaledEventAttributes.signalName ?? '';
  }
  if (a.markerRecordedEventAttributes) return a.markerRecordedEventAttributes.markerName ?? '';
  return '';
}

/** One short line per event (`#18 WorkflowExecutionUpdateAccepted claimTask …`), with times. */
export function outlineHistory(history: History): string {
  const events = history.events ?? [];
  const t0 = Number(events[0]?.eventTime?.seconds ?? 0) * 1000;
  return events
    .map((e) => {
      const ms =
        Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
      return `#${String(e.eventId)} +${ms - t0}ms ${eventTypeName(e)} ${detail(e)}`.trimEnd();
    })
    .join('\n');
}

/**
 * Replays the current history of each workflow against the workflow bundle at `bundlePath`, and
 * answers the ones that do not replay, each with its error and its history's outline: a history
 * recorded live that the same code cannot replay strands its task at the next cache eviction or
 * worker restart.
 */
export async function unreplayable(
  client: Client,
  workflowIds: string[],
  bundlePath: string,
): Promise<string[]> {
  const histories: Array<{ workflowId: string; history: History }> = [];
  // Twenty at a time: the machine running the tests is small.
  for (let from = 0; from < workflowIds.length; from += 20) {
    const batch = workflowIds.slice(from, from + 20);
    const fetched = await Promise.all(
      batch.map((id) => client.workflow.getHandle(id).fetchHistory()),
    );
    batch.forEach((workflowId, j) => histories.push({ workflowId, history: fetched[j]! }));
  }
  const failed = await replayEach(bundlePath, 'recorded-live', histories);
  return failed.map(
    ({ index, error, event }) =>
      `${histories[index]!.workflowId}: ${error}${event ? ` (at ${event})` : ''}\n` +
      outlineHistory(histories[index]!.history),
  );
}
