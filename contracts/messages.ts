import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ByActor } from './actor';
import type { TaskTransition, TaskView } from './task';
import type { DeliveryStep } from './events';

/**
 * Messages of the task workflow. Every change is an update, so the caller learns at once
 * whether it was accepted: a refused one fails in the update's validator, names the task's
 * current state and records nothing. Each takes one input object; its `actor` (optional, since
 * histories recorded before 0.5.0 lack it) says who asked for the change, and is what the
 * change's events name as their actor.
 */

/**
 * An agent takes a backlog task (or resumes one sent back for changes). A claim validated after
 * `expiresAt` (ISO 8601) is refused: its caller has stopped waiting for the answer, and a task
 * must not go to an agent that was never told.
 */
export const claimTaskUpdate = defineUpdate<
  TaskView,
  [{ agentId: string; expiresAt?: string } & ByActor]
>('claimTask');

/** The assigned agent gives a task back to the backlog (or loses it when its lease ends). */
export const releaseTaskUpdate = defineUpdate<
  TaskView,
  [{ agentId: string; reason: string } & ByActor]
>('releaseTask');

/** The assigned agent asks a person a question; the task waits in `needs_input`. */
export const askQuestionUpdate = defineUpdate<
  { questionId: string },
  [{ agentId: string; questionId: string; question: string } & ByActor]
>('askQuestion');

/** A person answers the open question; the task returns to `in_progress`. */
export const answerQuestionUpdate = defineUpdate<
  { questionId: string },
  [{ answer: string; questionId?: string } & ByActor]
>('answerQuestion');

/** The assigned agent tells the board how its work is going (no change of state). */
export const reportProgressUpdate = defineUpdate<
  void,
  [{ agentId: string; message: string } & ByActor]
>('reportProgress');

/** The assigned agent hands the work in for review (`ready_to_test`). */
export const submitForReviewUpdate = defineUpdate<
  TaskView,
  [
    {
      agentId: string;
      previewUrl?: string;
      previewCommit?: string;
      branch?: string;
      prUrl?: string;
    } & ByActor,
  ]
>('submitForReview');

/** A person approves the work under review. */
export const approveTaskUpdate = defineUpdate<TaskView, [ByActor?]>('approveTask');

/** A person sends the work back with feedback for the agent. */
export const requestChangesUpdate = defineUpdate<TaskView, [{ feedback: string } & ByActor]>(
  'requestChanges',
);

/** A person cancels a task that has not reached staging. */
export const cancelTaskUpdate = defineUpdate<TaskView, [{ reason?: string } & ByActor]>(
  'cancelTask',
);

/** The assigned agent asks for its task's branch on the forge (`create_branch`). */
export const createBranchUpdate = defineUpdate<
  { branch: string; cloneUrl: string },
  [{ agentId: string } & ByActor]
>('createBranch');

/** The assigned agent opens (or updates) the pull request of its branch (`create_pr`). */
export const createPullRequestUpdate = defineUpdate<
  { prNumber: number; prUrl: string },
  [{ agentId: string; title?: string; description?: string } & ByActor]
>('createPullRequest');

/** The assigned agent has its branch deployed as a preview; the task goes to `ready_to_test`. */
export const triggerPreviewUpdate = defineUpdate<
  { previewUrl: string; commit: string },
  [{ agentId: string } & ByActor]
>('triggerPreview');

/** A merge batch takes an approved task; answers the task with the commit to merge. */
export const beginMergeUpdate = defineUpdate<TaskView, [{ mergeId: string } & ByActor]>(
  'beginMerge',
);

/** The merge batch could not merge the task without conflicts: back to the agent for changes. */
export const mergeConflictUpdate = defineUpdate<
  TaskView,
  [{ mergeId: string; files: string[] } & ByActor]
>('mergeConflict');

/** The merge batch gives the task back unmerged (rolled back or failed); it stays approved. */
export const endMergeUpdate = defineUpdate<
  TaskView,
  [{ mergeId: string; reason: string } & ByActor]
>('endMerge');

/** The merge to staging has landed the task's work and staging is deployed. */
export const markStagedUpdate = defineUpdate<TaskView, [{ mergeId: string } & ByActor]>(
  'markStaged',
);

/**
 * Resolves once every change so far is in the read model. Release 0.6.0's `POST /api/tasks`
 * started task workflows with it; kept for histories that hold it and for those API processes.
 */
export const projectionSyncedUpdate = defineUpdate<TaskView>('projectionSynced');

/** The assigned agent shows signs of life; it keeps the agent's lease on the task. */
export const agentHeartbeatSignal = defineSignal<[{ agentId: string }]>('agentHeartbeat');

/**
 * Asks a long-lived workflow (a task, a merge queue) to continue as new at its next safe point,
 * so that from then on it runs the workflow code of the release its worker runs, with no history
 * of earlier releases to replay (docs/operations.md, "Upgrading"). Nothing else changes.
 */
export const continueAsNewSignal = defineSignal('continueAsNew');

/** The task as its workflow knows it right now. */
export const taskViewQuery = defineQuery<TaskView>('taskView');

/** Every transition the task went through, in order. */
export const taskHistoryQuery = defineQuery<TaskTransition[]>('taskHistory');

/** Failure type of a delivery step the forge or preview runtime refused; the message says why. */
export const DELIVERY_FAILED = 'DeliveryFailed';

/**
 * Failure type of a delivery step that met an outage of the forge or the preview runtime on every
 * attempt: worth trying again later. Its message is aiworker's own; the worker logs the cause.
 */
export const DELIVERY_UNAVAILABLE = 'DeliveryUnavailable';

/** Failure type of a refused update (ApplicationFailure.type). */
export const TRANSITION_REFUSED = 'TransitionRefused';

/**
 * The detail of a delivery step refused because a step of the same task is running (the first
 * of the refusal's `details`, beside its message): callers tell which step it is without reading
 * the message.
 */
export interface BusyWithStep {
  busyWith: DeliveryStep;
}

/**
 * Failure type of an update that reached a run in the middle of continuing as new: nothing was
 * changed, and the same update sent again reaches the new run (see `executeTaskUpdate`).
 */
export const TASK_RESTARTING = 'TaskRestarting';
