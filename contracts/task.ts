import type { Actor } from './actor';
import type { TaskState } from './task-state';

/** A question an agent asked about a task, and the person's answer once given. */
export interface TaskQuestion {
  id: string;
  question: string;
  agentId: string | null;
  answer: string | null;
  askedAt: string;
  answeredAt: string | null;
}

/** One recorded transition of a task (its workflow's view of history). */
export interface TaskTransition {
  seq: number;
  from: TaskState | null;
  to: TaskState;
  reason: string;
  at: string;
}

/** Everything the task workflow knows about its task; what `taskViewQuery` answers. */
export interface TaskView {
  id: string;
  projectId: string;
  title: string;
  description: string;
  priority: number;
  state: TaskState;
  assignedAgentId: string | null;
  questions: TaskQuestion[];
  feedback: string[];
  branch: string | null;
  prNumber: number | null;
  prUrl: string | null;
  previewUrl: string | null;
  /** The commit the current preview runs. */
  previewCommit: string | null;
  /** The commit a person approved (the preview's); the merge to staging merges exactly this. */
  approvedCommit: string | null;
  /** The merge batch holding the task while it is merged (and the one that merged it). */
  mergeId: string | null;
  createdAt: string;
}

/** A task as the read model holds it: what `GET /api/tasks/:id` answers. */
export type TaskRecord = Pick<
  TaskView,
  | 'id'
  | 'projectId'
  | 'title'
  | 'description'
  | 'priority'
  | 'state'
  | 'assignedAgentId'
  | 'branch'
  | 'prNumber'
  | 'prUrl'
  | 'previewUrl'
  | 'previewCommit'
  | 'approvedCommit'
  | 'mergeId'
  | 'createdAt'
> & {
  updatedAt: string;
  questions: Array<Omit<TaskQuestion, 'agentId'>>;
  /**
   * Set while the task's workflow fails every workflow task and so cannot change (see
   * docs/operations.md, "A stuck task"): since when, and why in plain words.
   */
  stuck: { since: string; reason: string } | null;
};

/** What starts a task workflow. `snapshot` is set only when the workflow continues as new. */
export interface TaskWorkflowInput {
  task: Pick<TaskView, 'id' | 'projectId' | 'title' | 'description' | 'priority'>;
  /** How long a question may wait before the board is reminded, in milliseconds. */
  reminderAfterMs: number;
  /** How long an agent keeps a task in progress without a sign of life, in milliseconds. */
  leaseMs: number;
  /** Who created the task (absent in histories recorded before release 0.5.0). */
  actor?: Actor;
  /**
   * When the task was created, as its row in the read model says (the API writes that row before
   * it starts the workflow). Absent before release 0.7.0: the first workflow task's time is used.
   */
  createdAt?: string;
  snapshot?: TaskSnapshot;
}

/**
 * A task as it is created: in the backlog, nobody's, nothing delivered; created at the input's
 * `createdAt` or, for an input without one (before release 0.7.0), at `now`.
 */
export function newTaskView(input: TaskWorkflowInput, now: Date): TaskView {
  return {
    ...input.task,
    state: 'backlog',
    assignedAgentId: null,
    questions: [],
    feedback: [],
    branch: null,
    prNumber: null,
    prUrl: null,
    previewUrl: null,
    previewCommit: null,
    approvedCommit: null,
    mergeId: null,
    createdAt: input.createdAt ?? now.toISOString(),
  };
}

/**
 * The format of `TaskSnapshot` this release writes. Every release reads the formats of the
 * releases before it (`workflows/task-snapshot.ts`); a format only grows, with optional fields,
 * so an earlier release can still read the fields it knows.
 *   1 (release 0.1.0, written without `version`): view, history, eventSeq.
 *   2: adds `clock`.
 */
export const TASK_SNAPSHOT_VERSION = 2;

/** The whole state of a task workflow, carried across continue-as-new. */
export interface TaskSnapshot {
  /** The format (see `TASK_SNAPSHOT_VERSION`); absent means 1. */
  version?: number;
  view: TaskView;
  history: TaskTransition[];
  /** Last event sequence number used for this task (events are numbered per task). */
  eventSeq: number;
  /**
   * The wait the previous run was in when it continued as new, so the new run keeps its
   * deadline instead of starting the lease or the question reminder over.
   */
  clock?: TaskClock;
}

/** When the current lease or question reminder period began (workflow time, ISO 8601). */
export type TaskClock =
  { kind: 'lease'; since: string } | { kind: 'reminder'; questionId: string; since: string };

/** Most tasks one `POST /api/tasks/batch` creates; the board sends a larger import in parts. */
export const TASK_BATCH_MAX = 1000;

/** Largest body `POST /api/tasks/batch` accepts: 1,000 tasks of about 5 kB each. */
export const TASK_BATCH_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/** What `POST /api/tasks/batch` answers (201): the tasks' ids, in the order they were sent. */
export interface TaskBatchCreated {
  /** The request's `Idempotency-Key`, or one the server chose; the ids derive from it. */
  batchId: string;
  taskIds: string[];
}

/** The workflow id of a task's workflow. */
export function taskWorkflowId(taskId: string): string {
  return `task-${taskId}`;
}
