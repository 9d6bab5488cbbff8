import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TaskTransition, TaskView } from './task';

/**
 * Messages of the task workflow. Every change is an update, so the caller learns at once
 * whether it was accepted: a refused one fails in the update's validator, names the task's
 * current state and records nothing. Each takes one input object.
 */

/** An agent takes a backlog task (or resumes one sent back for changes). */
export const claimTaskUpdate = defineUpdate<TaskView, [{ agentId: string }]>('claimTask');

/** The assigned agent gives a task back to the backlog (or loses it when its lease ends). */
export const releaseTaskUpdate = defineUpdate<TaskView, [{ agentId: string; reason: string }]>(
  'releaseTask',
);

/** The assigned agent asks a person a question; the task waits in `needs_input`. */
export const askQuestionUpdate = defineUpdate<
  { questionId: string },
  [{ agentId: string; questionId: string; question: string }]
>('askQuestion');

/** A person answers the open question; the task returns to `in_progress`. */
export const answerQuestionUpdate = defineUpdate<
  { questionId: string },
  [{ answer: string; questionId?: string }]
>('answerQuestion');

/** The assigned agent hands the work in for review (`ready_to_test`). */
export const submitForReviewUpdate = defineUpdate<
  TaskView,
  [{ agentId: string; previewUrl?: string; branch?: string; prUrl?: string }]
>('submitForReview');

/** A person approves the work under review. */
export const approveTaskUpdate = defineUpdate<TaskView>('approveTask');

/** A person sends the work back with feedback for the agent. */
export const requestChangesUpdate = defineUpdate<TaskView, [{ feedback: string }]>(
  'requestChanges',
);

/** A person cancels a task that has not reached staging. */
export const cancelTaskUpdate = defineUpdate<TaskView, [{ reason?: string }]>('cancelTask');

/** The merge to staging has landed the task's work. */
export const markStagedUpdate = defineUpdate<TaskView>('markStaged');

/** Resolves once every change so far is in the read model; how `POST /api/tasks` reads its own write. */
export const projectionSyncedUpdate = defineUpdate<TaskView>('projectionSynced');

/** The assigned agent shows signs of life; it keeps the agent's lease on the task. */
export const agentHeartbeatSignal = defineSignal<[{ agentId: string }]>('agentHeartbeat');

/** The task as its workflow knows it right now. */
export const taskViewQuery = defineQuery<TaskView>('taskView');

/** Every transition the task went through, in order. */
export const taskHistoryQuery = defineQuery<TaskTransition[]>('taskHistory');

/** Failure type of a refused update (ApplicationFailure.type). */
export const TRANSITION_REFUSED = 'TransitionRefused';
