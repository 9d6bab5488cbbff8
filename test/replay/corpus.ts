import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Where each release's histories live: `<release>/manifest.json` and one file per run. */
export const CORPUS_DIR = path.join(__dirname, 'histories');

/** One captured run of one workflow, as the manifest lists it. */
export interface CorpusEntry {
  /** Path of the history file, relative to the release's folder. */
  file: string;
  workflowType: string;
  /** What the scenario made of it (`needs_input`, `deploying`, …): unique per workflow type. */
  label: string;
  /** The task's or merge's state when it was captured, when it has one. */
  state: string | null;
  /** `waiting`: captured while the scenarios wait; `finished`: after the held merge went on. */
  phase: 'waiting' | 'finished';
  workflowId: string;
  runId: string;
  /** 1 for the first run; later runs began with continue-as-new. */
  run: number;
  runs: number;
  events: number;
  /** How the run ended (`ContinuedAsNew`, `Completed`, …), or null while it is open. */
  closedBy: string | null;
}

/** `manifest.json` of a release's corpus. */
export interface CorpusManifest {
  release: string;
  commit: string;
  capturedAt: string;
  temporalServer: string;
  sdk: string;
  /**
   * Whether workers could be rolled back to the previous release: how many of these histories
   * that release's workflow code replays (measured when the corpus was captured).
   */
  rollback: { to: string; replayed: number; of: number } | null;
  histories: CorpusEntry[];
}

/** Every release that has a corpus, oldest first (by version). */
export function corpusReleases(): string[] {
  if (!existsSync(CORPUS_DIR)) return [];
  return readdirSync(CORPUS_DIR)
    .filter((name) => existsSync(path.join(CORPUS_DIR, name, 'manifest.json')))
    .sort(compareVersions);
}

export function readManifest(release: string): CorpusManifest {
  return JSON.parse(
    readFileSync(path.join(CORPUS_DIR, release, 'manifest.json'), 'utf8'),
  ) as CorpusManifest;
}

/** A history file of the corpus, in the JSON form `temporal workflow show --output json` writes. */
export function readHistory(release: string, entry: Pick<CorpusEntry, 'file'>): History {
  return historyFromJSON(
    JSON.parse(readFileSync(path.join(CORPUS_DIR, release, entry.file), 'utf8')),
  );
}

/** Orders `0.9.0` before `0.10.0`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const diff = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** `EVENT_TYPE_WORKFLOW_TASK_FAILED` → `WorkflowTaskFailed`. */
export function eventTypeName(event: HistoryEvent): string {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes') && event[k as never]);
  return key ? key[0]!.toUpperCase() + key.slice(1, -'EventAttributes'.length) : 'Unknown';
}

/** Every run of a workflow, first to current, following continue-as-new. */
export async function fetchRuns(
  client: Client,
  workflowId: string,
): Promise<Array<{ runId: string; history: History }>> {
  const current = await client.workflow.getHandle(workflowId).fetchHistory();
  const started = current.events?.[0]?.workflowExecutionStartedEventAttributes;
  let runId: string | null | undefined = started?.firstExecutionRunId;
  if (!runId) throw new Error(`workflow ${workflowId}: no first run id in its history`);
  const runs: Array<{ runId: string; history: History }> = [];
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.push({ runId, history });
    const last: HistoryEvent | undefined = history.events?.[history.events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? null;
  }
  return runs;
}

/** How a run ended, or null while it is open. */
export function closedBy(history: History): string | null {
  const last = history.events?.[history.events.length - 1];
  if (!last) return null;
  const ending = eventTypeName(last).replace(/^WorkflowExecution/, '');
  return CLOSING.has(ending) ? ending : null;
}

const CLOSING = new Set([
  'Completed',
  'Failed',
  'TimedOut',
  'Canceled',
  'Terminated',
  'ContinuedAsNew',
]);

/** A history of the corpus that the workflow code under test no longer replays. */
export interface ReplayFailure extends Omit<HistoryReplayFailure, 'index'> {
  release: string;
  entry: CorpusEntry;
}

/**
 * Replays every history of `release` against the workflow bundle at `bundlePath` (a replay
 * worker runs the workflow code against each recorded history and fails where the code would
 * issue different commands). Answers the histories that no longer replay.
 */
export async function replayRelease(
  release: string,
  bundlePath: string,
  only: (entry: CorpusEntry) => boolean = () => true,
): Promise<ReplayFailure[]> {
  const entries = readManifest(release).histories.filter(only);
  const histories = entries.map((entry) => ({
    workflowId: entry.workflowId,
    history: readHistory(release, entry),
  }));
  const failed = await replayEach(bundlePath, `corpus-${release}`, histories);
  return failed.map(({ index, error, event }) => ({
    release,
    entry: entries[index]!,
    error,
    event,
  }));
}

/** A history the workflow code did not replay: its place in the list, the error, the event. */
export interface HistoryReplayFailure {
  index: number;
  /** The SDK's error, e.g. `[TMPRL1100] Nondeterminism error: …`. */
  error: string;
  /** The history event replay stopped at (`#12 ActivityTaskScheduled`), when the SDK names one. */
  event: string | null;
}

/**
 * Replays each history against the workflow bundle at `bundlePath` (a replay worker runs the
 * workflow code against the recorded history and fails where the code would issue different
 * commands), and answers the ones that did not replay.
 */
export async function replayEach(
  bundlePath: string,
  replayName: string,
  histories: Array<{ workflowId: string; history: History }>,
): Promise<HistoryReplayFailure[]> {
  const failures: HistoryReplayFailure[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle: { codePath: bundlePath }, replayName },
    histories,
  );
  // Results come one per history, in the order given.
  let index = 0;
  for await (const result of results) {
    const { history } = histories[index]!;
    if (result.error) {
      const error = result.error.message;
      const id = /HistoryEvent\(id: (\d+)/.exec(error)?.[1];
      const event = id ? history.events?.find((e) => String(e.eventId) === id) : undefined;
      failures.push({
        index,
        error,
        event: event ? `#${id} ${eventTypeName(event)}` : id ? `#${id}` : null,
      });
    }
    index += 1;
  }
  return failures;
}

/** One line a person can act on: which workflow, in which state, diverged where and why. */
export function describeFailure(f: ReplayFailure): string {
  const { entry } = f;
  const state = entry.state ? `, state ${entry.state}` : '';
  return (
    `release ${f.release}: ${entry.workflowType} "${entry.label}" (${entry.phase}${state}, ` +
    `run ${entry.run} of ${entry.runs}, ${entry.file}) no longer replays` +
    `${f.event ? ` at event ${f.event}` : ''}: ${f.error}`
  );
}
