import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { Counter, Histogram } from 'prom-client';
import { unreachableDependency } from '../platform/failures';
import { registry, SECONDS_BUCKETS } from '../platform/metrics';

/**
 * How an activity's attempt failed, in one word for a label (never the error's own text):
 * `failed` (not retried: the forge refused, the preview cannot start), `cancelled`, `unreachable`
 * (a dependency is away; retried) or `error` (anything else; retried).
 */
export function failureKind(err: unknown): 'failed' | 'cancelled' | 'unreachable' | 'error' {
  if (err instanceof CancelledFailure) return 'cancelled';
  if (err instanceof ApplicationFailure && err.nonRetryable) return 'failed';
  if (unreachableDependency(err)) return 'unreachable';
  return 'error';
}

const failures = new Counter({
  name: 'aiworker_activity_failures_total',
  help: 'Failed activity attempts, by activity and kind: failed (not retried), cancelled, unreachable, error',
  labelNames: ['activity', 'kind'] as const,
  registers: [registry],
});

type ActivityFunction = (...args: never[]) => Promise<unknown>;

/** The activities, each counting its failed attempts in `aiworker_activity_failures_total`. */
export function countingFailures<T extends Record<string, ActivityFunction>>(activities: T): T {
  const counted = Object.entries(activities).map(([activity, run]) => [
    activity,
    async (...args: never[]) => {
      try {
        return await run(...args);
      } catch (err) {
        failures.inc({ activity, kind: failureKind(err) });
        throw err;
      }
    },
  ]);
  return Object.fromEntries(counted) as T;
}

const durations = (name: string, help: string) =>
  new Histogram({
    name,
    help,
    labelNames: ['outcome'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });

/** `deployTaskPreview` attempts: `ok`, or how it failed (`failureKind`). */
export const previewDeploys = durations(
  'aiworker_preview_deploy_duration_seconds',
  'Task preview deploys (an attempt of deployTaskPreview) by outcome: ok, or failed (the preview did not come up, or the branch is not there), cancelled, unreachable, error',
);

/** `mergeTaskPullRequest` attempts: `merged`, `already_merged`, `conflict`, or how it failed. */
export const merges = durations(
  'aiworker_merge_duration_seconds',
  "Merges of a task's pull request into staging by outcome: merged, already_merged (a retry), conflict, or failed, cancelled, unreachable, error",
);

/** `deployStaging` attempts: `ok`, `failed` (unhealthy or refused: the batch rolls back), or how it failed. */
export const stagingDeploys = durations(
  'aiworker_staging_deploy_duration_seconds',
  'Staging deploys of a merge batch by outcome: ok, failed (unhealthy or refused: the batch rolls back), or cancelled, unreachable, error',
);

/** Runs `run`, timing it in `histogram` with the outcome `outcomeOf` tells, or how it failed. */
export async function timed<T>(
  histogram: Histogram<'outcome'>,
  run: () => Promise<T>,
  outcomeOf: (result: T) => string = () => 'ok',
): Promise<T> {
  const measured = histogram.startTimer();
  try {
    const result = await run();
    measured({ outcome: outcomeOf(result) });
    return result;
  } catch (err) {
    measured({ outcome: failureKind(err) });
    throw err;
  }
}
