import { useMerge, MERGE_ENDED } from '../api/queries';
import type { MergeState, MergeTaskRecord, Task } from '../api/types';
import { ErrorMessage } from '../ui/error-message';

const STATE_WORDS: Record<MergeState, string> = {
  queued: 'Queued: waiting for the previous merge of this project',
  merging: 'Merging into staging…',
  deploying: 'Deploying staging…',
  completed: 'Merged and deployed',
  failed: 'Failed',
  rolled_back: 'Rolled back',
};

const RESULT_WORDS: Record<MergeTaskRecord['result'], string> = {
  pending: 'waiting',
  merged: 'merged',
  conflict: 'conflict',
  skipped: 'skipped',
  rolled_back: 'rolled back',
  deployed: 'deployed',
};

/** How the project's latest merge is going, task by task; follows it until it ends. */
export function MergeStatus(props: { mergeId: string; tasks: Task[]; onDismiss: () => void }) {
  const merge = useMerge(props.mergeId);
  const titleOf = (taskId: string) => props.tasks.find((t) => t.id === taskId)?.title ?? taskId;
  const data = merge.data;
  const ended = data ? MERGE_ENDED.includes(data.state) : merge.isError;
  const tone = data?.state === 'completed' ? 'ok' : data && ended ? 'bad' : 'busy';

  return (
    <section className={`merge-status merge-${tone}`} aria-label="Merge to staging">
      <div className="merge-head">
        <strong>Merge to staging</strong>
        {data && <span className="merge-state">{STATE_WORDS[data.state] ?? data.state}</span>}
        {merge.isPending && <span className="muted">Loading…</span>}
        <span className="spacer" />
        {ended && (
          <button className="button small ghost" type="button" onClick={props.onDismiss}>
            Dismiss
          </button>
        )}
      </div>
      <ErrorMessage error={merge.error} prefix="Could not follow the merge" />
      {data && (
        <>
          {data.tasks.length > 0 && (
            <ul className="merge-tasks">
              {data.tasks.map((t) => (
                <li key={t.taskId}>
                  <span className={`result result-${t.result}`}>
                    {RESULT_WORDS[t.result] ?? t.result}
                  </span>{' '}
                  {titleOf(t.taskId)}
                  {t.commit && (
                    <>
                      {' '}
                      <code className="muted" title={t.commit}>
                        {t.commit.slice(0, 8)}
                      </code>
                    </>
                  )}
                  {t.detail && <span className="muted"> — {t.detail}</span>}
                </li>
              ))}
            </ul>
          )}
          {data.detail && <p className="merge-detail">{data.detail}</p>}
          {data.deployUrl && (
            <p className="merge-deploy">
              {data.state === 'completed' ? 'Live on ' : ''}
              {data.environment ?? 'staging'}:{' '}
              <a href={data.deployUrl} target="_blank" rel="noreferrer">
                {data.deployUrl}
              </a>
            </p>
          )}
        </>
      )}
    </section>
  );
}
