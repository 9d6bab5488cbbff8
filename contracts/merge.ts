import type { Actor } from './actor';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { EventPayloads, EventType } from './events';

/** Where a merge batch is: queued behind earlier ones, merging PRs, deploying, or finished. */
export type MergeState =
  'queued' | 'merging' | 'deploying' | 'completed' | 'failed' | 'rolled_back';

/** What became of one task of a batch. */
export type MergeTaskResult =
  'pending' | 'merged' | 'conflict' | 'skipped' | 'rolled_back' | 'deployed';

/** One task of a batch as the read model holds it. */
export interface MergeTaskRecord {
  taskId: string;
  result: MergeTaskResult;
  /** The merge commit on staging, once merged. */
  commit: string | null;
  /** Why it was skipped or rolled back, or the conflicting files. */
  detail: string | null;
}

/** A merge batch: what `GET /api/merges/:id` answers. */
export interface MergeView {
  id: string;
  projectId: string;
  state: MergeState;
  tasks: MergeTaskRecord[];
  baseSha: string | null;
  headSha: string | null;
  environment: string | null;
  deployUrl: string | null;
  detail: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One accepted `POST /api/merge`: what the queue runs as a batch. */
export interface MergeRequest {
  mergeId: string;
  projectId: string;
  taskIds: string[];
  /** Who asked for the merge (absent in histories recorded before release 0.5.0). */
  actor?: Actor;
}

/** What starts (or continues) a project's merge queue. */
export interface MergeQueueInput {
  projectId: string;
  /** Requests accepted but not yet run, carried across continue-as-new. */
  pending: MergeRequest[];
}

/** How a batch ended, as its workflow returns it. */
export interface MergeSummary {
  mergeId: string;
  state: MergeState;
  tasks: MergeTaskRecord[];
}

/** The workflow id of one merge batch. */
export function mergeWorkflowId(mergeId: string): string {
  return `merge-${mergeId}`;
}

/** The workflow id of a project's merge queue: one batch at a time per project. */
export function mergeQueueWorkflowId(projectId: string): string {
  return `merge-queue-${projectId}`;
}

/**
 * Adds a request to the project's queue; resolves once its merge row (state `queued`) is in the
 * read model, so `GET /api/merges/:id` finds it right after `POST /api/merge` answers. Sending the
 * same mergeId again changes nothing.
 */
export const enqueueMergeUpdate = defineUpdate<
  { mergeId: string; position: number },
  [MergeRequest]
>('enqueueMerge');

/** The mergeIds waiting in a project's queue, the running one first. */
export const mergeQueueQuery = defineQuery<string[]>('mergeQueue');

/** The fields of a merge row a step may set. */
export interface MergeFields {
  state?: MergeState;
  baseSha?: string | null;
  headSha?: string | null;
  environment?: string | null;
  deployUrl?: string | null;
  detail?: string | null;
}

/** A project-level event of a merge, before it has its place in the log. */
export interface MergeEvent<T extends EventType = EventType> {
  type: T;
  payload: EventPayloads[T];
  at: string;
  actor?: Actor;
}

/** One step of a merge batch to write into the read model. */
export interface MergeChange {
  mergeId: string;
  projectId: string;
  /** The batch's step number; a step at or below what is stored is not applied again. */
  version: number;
  merge: MergeFields;
  tasks: Array<MergeTaskRecord & { position: number }>;
  events: MergeEvent[];
}
