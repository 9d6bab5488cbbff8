import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { enqueueMergeUpdate, mergeQueueQuery, mergeWorkflowId } from '../contracts/merge';
import { continueAsNewSignal, TRANSITION_REFUSED } from '../contracts/messages';
import { UNKNOWN_ACTOR } from '../contracts/actor';
import type {
  MergeQueueInput,
  MergeRequest,
  MergeState,
  MergeSummary,
  MergeTaskRecord,
  MergeEvent,
  MergeFields,
} from '../contracts/merge';

// Projection and the task outcomes are idempotent and must eventually land: retried without limit.
const { projectMerge, beginTaskMerge, conflictTaskMerge, endTaskMerge, markTaskStaged } =
  proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds' },
  });
// Forge calls and preview teardown: quick, retried a few times for outages; the forge makes a
// retried merge a no-op. They heartbeat, so a worker that dies mid-step is noticed in 20 seconds
// rather than at the 2-minute timeout.
const { stagingHead, mergeTaskPullRequest, resetStaging, teardownTaskPreview } =
  proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 10 },
  });
// A deploy installs and starts the app (or waits for Argo CD): long, heartbeating so a dead worker
// is noticed within 20 seconds.
const { deployStaging } = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 3 },
});

/**
 * One merge batch (merging to staging: docs/architecture.md, "Agents, delivery and merges"): takes each task, merges its approved commit into staging in
 * order (a conflict sends that task back and the others go on), deploys staging, and either marks
 * the merged tasks staged or puts staging back where it was and gives them back approved. Every
 * step is projected into the read model; the project's queue runs one batch at a time.
 */
export async function mergeBatchWorkflow(request: MergeRequest): Promise<MergeSummary> {
  const { mergeId, projectId } = request;
  // Who asked for the merge: taking the tasks and staging them is theirs, conflicts and rollbacks
  // are aiworker's findings. (Activity inputs carry it; replay does not compare them.)
  const actor = request.actor;
  // Step 1 was the `queued` row written when the request was accepted.
  let version = 1;
  let state: MergeState = 'merging';
  const tasks = new Map<string, MergeTaskRecord & { position: number }>(
    request.taskIds.map((taskId, position) => [
      taskId,
      { taskId, position, result: 'pending', commit: null, detail: null },
    ]),
  );
  const set = (taskId: string, patch: Partial<MergeTaskRecord>) =>
    tasks.set(taskId, { ...tasks.get(taskId)!, ...patch });
  const now = () => new Date().toISOString();
  const save = async (merge: MergeFields, events: MergeEvent[] = []): Promise<void> => {
    if (merge.state) state = merge.state;
    version += 1;
    const progress: MergeEvent = {
      type: 'merge:progress',
      payload: { mergeId, state, detail: merge.detail ?? null },
      at: now(),
    };
    await projectMerge({
      mergeId,
      projectId,
      version,
      merge,
      tasks: [...tasks.values()],
      events: [progress, ...events].map((e) => ({ ...e, actor: actor ?? UNKNOWN_ACTOR })),
    });
  };

  await save({ state: 'merging' });
  const begun: Array<{ taskId: string; prNumber: number; commit: string }> = [];
  for (const taskId of request.taskIds) {
    const taken = await beginTaskMerge({ taskId, mergeId, actor });
    if (!taken.ok) {
      set(taskId, { result: 'skipped', detail: taken.reason });
      continue;
    }
    const { prNumber, approvedCommit } = taken.view;
    if (prNumber === null || approvedCommit === null) {
      const reason = 'the task has no pull request or approved commit to merge';
      await endTaskMerge({ taskId, mergeId, reason });
      set(taskId, { result: 'skipped', detail: reason });
      continue;
    }
    begun.push({ taskId, prNumber, commit: approvedCommit });
  }
  const baseSha = await stagingHead({ projectId });
  await save({ baseSha });

  for (const task of begun) {
    const outcome = await mergeTaskPullRequest({
      projectId,
      taskId: task.taskId,
      prNumber: task.prNumber,
      commit: task.commit,
      message: `Merge task ${task.taskId} (merge ${mergeId})`,
    });
    if (outcome.merged) {
      set(task.taskId, { result: 'merged', commit: outcome.mergeSha });
    } else {
      await conflictTaskMerge({ taskId: task.taskId, mergeId, files: outcome.conflicts });
      set(task.taskId, { result: 'conflict', detail: outcome.conflicts.join(', ') });
    }
    await save({});
  }

  const merged = begun.filter((t) => tasks.get(t.taskId)!.result === 'merged');
  const summary = (): MergeSummary => ({ mergeId, state, tasks: [...tasks.values()] });
  if (merged.length === 0) {
    await save({ state: 'failed', detail: 'no task could be merged' });
    return summary();
  }

  const headSha = await stagingHead({ projectId });
  const taskIds = merged.map((t) => t.taskId);
  await save({ state: 'deploying', headSha }, [
    {
      type: 'deploy:started',
      payload: { environment: 'staging', taskIds, mergeId },
      at: now(),
    },
  ]);
  let deployed: Awaited<ReturnType<typeof deployStaging>>;
  try {
    deployed = await deployStaging({ projectId, commit: headSha });
  } catch (err) {
    deployed = { ok: false, reason: `the deployment did not finish: ${(err as Error).message}` };
  }

  if (deployed.ok) {
    for (const taskId of taskIds) {
      await markTaskStaged({ taskId, mergeId, actor });
      await teardownTaskPreview({ taskId });
      set(taskId, { result: 'deployed' });
    }
    await save({ state: 'completed', environment: deployed.environment, deployUrl: deployed.url }, [
      {
        type: 'deploy:completed',
        payload: { environment: deployed.environment, url: deployed.url, mergeId },
        at: now(),
      },
    ]);
    return summary();
  }

  // Roll back: staging returns to its commit before the batch (only if nobody moved it since),
  // and the old staging is deployed again so the environment serves what staging holds.
  const reason = `staging did not become healthy: ${deployed.reason}`;
  await resetStaging({ projectId, to: baseSha, expected: headSha });
  try {
    await deployStaging({ projectId, commit: baseSha });
  } catch (err) {
    log.warn('redeploying the previous staging failed', { mergeId, err: (err as Error).message });
  }
  for (const taskId of taskIds) {
    await endTaskMerge({ taskId, mergeId, reason });
    set(taskId, { result: 'rolled_back', detail: reason });
  }
  await save({ state: 'rolled_back', detail: reason, environment: 'staging' }, [
    { type: 'deploy:failed', payload: { environment: 'staging', reason, mergeId }, at: now() },
  ]);
  return summary();
}

/** The patch under which the queue reads Temporal's continue-as-new suggestion deterministically. */
const SUGGESTION_READ_ON_RECORDED_WORK = 'suggestion-read-on-recorded-work';

/**
 * A project's merge queue: batches run one after another, each as a child workflow
 * `merge-<mergeId>`, in the order their requests were accepted. The API adds requests with
 * update-with-start; the queue carries what is still waiting across continue-as-new.
 */
export async function mergeQueueWorkflow(input: MergeQueueInput): Promise<void> {
  // Temporal's continue-as-new suggestion comes with every workflow task, including one that only
  // delivers a request the validator refuses, which leaves no event and which replay never runs.
  // Since this patch it is read only where the queue acts on something its history records and
  // writes commands in the same task: a request it accepts, and the loop taking the next batch
  // (the task workflow's `noteSuggestion` explains the failure this avoids).
  const suggestionReadOnRecordedWork = patched(SUGGESTION_READ_ON_RECORDED_WORK);
  let restartSuggested = false;
  const noteSuggestion = (): void => {
    if (suggestionReadOnRecordedWork && workflowInfo().continueAsNewSuggested) {
      restartSuggested = true;
    }
  };
  const pending: MergeRequest[] = [...input.pending];
  const seen = new Set(pending.map((r) => r.mergeId));
  // Which queued or running batch holds each task: a task joins one batch at a time, even when
  // two requests for it pass the API's checks at the same moment.
  const holder = new Map(pending.flatMap((r) => r.taskIds.map((t) => [t, r.mergeId] as const)));

  setHandler(
    enqueueMergeUpdate,
    async (request) => {
      noteSuggestion();
      if (seen.has(request.mergeId)) {
        return {
          mergeId: request.mergeId,
          position: pending.findIndex((r) => r.mergeId === request.mergeId),
        };
      }
      seen.add(request.mergeId);
      // Before the first await, so the next request's validator already sees these tasks.
      for (const taskId of request.taskIds) holder.set(taskId, request.mergeId);
      // The row exists before the request joins the queue, so the batch always finds it.
      await projectMerge({
        mergeId: request.mergeId,
        projectId: input.projectId,
        version: 1,
        merge: { state: 'queued' },
        tasks: request.taskIds.map((taskId, position) => ({
          taskId,
          position,
          result: 'pending',
          commit: null,
          detail: null,
        })),
        events: [
          {
            type: 'merge:progress',
            payload: { mergeId: request.mergeId, state: 'queued', detail: null },
            at: new Date().toISOString(),
            actor: request.actor ?? UNKNOWN_ACTOR,
          },
        ],
      });
      pending.push(request);
      return { mergeId: request.mergeId, position: pending.length - 1 };
    },
    {
      validator: (request: MergeRequest) => {
        if (seen.has(request.mergeId)) return;
        const held = request.taskIds.flatMap((taskId) => {
          const mergeId = holder.get(taskId);
          return mergeId ? [`${taskId} is already in merge ${mergeId}`] : [];
        });
        if (held.length) {
          throw ApplicationFailure.nonRetryable(
            `only approved tasks that are not in a merge can be merged: ${held.join('; ')}`,
            TRANSITION_REFUSED,
          );
        }
      },
    },
  );
  setHandler(mergeQueueQuery, () => pending.map((r) => r.mergeId));
  // An operator moves the queue onto the current release's code (npm run workflows:refresh).
  let refreshRequested = false;
  setHandler(continueAsNewSignal, () => {
    refreshRequested = true;
  });
  const shouldContinueAsNew = () =>
    (suggestionReadOnRecordedWork ? restartSuggested : workflowInfo().continueAsNewSuggested) ||
    refreshRequested;

  for (;;) {
    await condition(() => pending.length > 0 || shouldContinueAsNew());
    noteSuggestion();
    if (shouldContinueAsNew()) {
      // An accepted request still being written must be carried over, not lost.
      await condition(allHandlersFinished);
      return await continueAsNew<typeof mergeQueueWorkflow>({
        projectId: input.projectId,
        pending,
      });
    }
    const next = pending[0]!;
    try {
      await executeChild(mergeBatchWorkflow, {
        workflowId: mergeWorkflowId(next.mergeId),
        args: [next],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      // One broken batch must not stop the project's later merges.
      log.error('merge batch failed', { mergeId: next.mergeId, err: (err as Error).message });
    }
    pending.shift();
    for (const taskId of next.taskIds) {
      if (holder.get(taskId) === next.mergeId) holder.delete(taskId);
    }
  }
}
