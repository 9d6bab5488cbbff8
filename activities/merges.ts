import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { projectRoom } from '../contracts/events';
import {
  beginMergeUpdate,
  endMergeUpdate,
  markStagedUpdate,
  mergeConflictUpdate,
  taskViewQuery,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import { applyMergeChange } from '../db/merges';
import { deliveredEvent } from '../db/tasks';
import { SYSTEM_ACTOR } from '../contracts/actor';
import type { Actor } from '../contracts/actor';
import type { MergeChange } from '../db/merges';
import { findProject } from '../db/projects';
import { TaskWorkflowStuck } from '../platform/errors';
import { executeTaskUpdate } from '../platform/task-updates';
import { DeployFailed, DeployRefused } from './deploy/deployer';
import type { ActivityDeps } from './deps';
import { beat, whileBeating } from './heartbeat';
import { merges, stagingDeploys, timed } from './metrics';
import { ForgeRefusal, repoOf, STAGING_BRANCH } from './forge/forge';
import type { Forge, MergeOutcome, RepoRef } from './forge/forge';
import { taskPreviewName } from './preview/runtime';
import { startWebhookDeliveries } from './webhooks';

/** Failure type of a merge step the forge refused (retrying will not help). */
export const MERGE_REFUSED = 'MergeRefused';

function isRefusal(err: unknown): err is WorkflowUpdateFailedError {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TRANSITION_REFUSED
  );
}

/** Activities of a merge batch (merging to staging: docs/architecture.md, "Agents, delivery and merges"): projection, forge, deploy, task outcomes. */
export function createMergeActivities(deps: ActivityDeps) {
  const { db, emitter, previews, staging, logger } = deps;
  const projectRepo = async (projectId: string): Promise<{ repo: RepoRef; forge: Forge }> => {
    const project = await findProject(db, projectId);
    if (!project)
      throw ApplicationFailure.nonRetryable(`there is no project ${projectId}`, MERGE_REFUSED);
    const repo = repoOf(project);
    return { repo, forge: deps.forgeFor(repo.provider) };
  };
  const forgeStep = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await whileBeating(run);
    } catch (err) {
      if (err instanceof ForgeRefusal)
        throw ApplicationFailure.nonRetryable(err.message, MERGE_REFUSED);
      throw err;
    }
  };
  const taskHandle = (taskId: string) =>
    Context.current().client.workflow.getHandle(taskWorkflowId(taskId));

  /**
   * Sends a merge outcome to a task. A retry of an outcome that already landed is refused by the
   * task (it no longer holds this merge) or meets a finished workflow (staged is final); both
   * mean the outcome is in, so the task's view is answered instead.
   */
  async function settle<Args extends unknown[]>(
    taskId: string,
    mergeId: string,
    update: UpdateDefinition<TaskView, Args>,
    ...args: Args
  ): Promise<TaskView> {
    const handle = taskHandle(taskId);
    try {
      return await executeTaskUpdate(handle, update, ...args);
    } catch (err) {
      if (!isRefusal(err) && !(err instanceof WorkflowNotFoundError)) throw err;
      const view = await handle.query(taskViewQuery);
      if (view.mergeId !== mergeId || view.state === 'staging') return view;
      throw err;
    }
  }

  return {
    /** Writes one step of a batch into MySQL (idempotent), then publishes its events. */
    async projectMerge(change: MergeChange): Promise<void> {
      const events = await applyMergeChange(db, change);
      await startWebhookDeliveries(deps, change.projectId, events);
      const room = emitter.to(projectRoom(change.projectId));
      for (const e of events) {
        room.emit(e.type, deliveredEvent(e));
      }
    },

    /** Takes a task into the batch; a refusal (not approved, in another merge) is an answer, not a failure. */
    async beginTaskMerge(input: {
      taskId: string;
      mergeId: string;
      actor?: Actor;
    }): Promise<{ ok: true; view: TaskView } | { ok: false; reason: string }> {
      try {
        const view = await executeTaskUpdate(taskHandle(input.taskId), beginMergeUpdate, {
          mergeId: input.mergeId,
          actor: input.actor ?? SYSTEM_ACTOR,
        });
        return { ok: true, view };
      } catch (err) {
        if (isRefusal(err)) return { ok: false, reason: (err.cause as ApplicationFailure).message };
        if (err instanceof WorkflowNotFoundError)
          return { ok: false, reason: 'the task has finished (staged or cancelled)' };
        // A task that cannot progress stays out of the batch instead of holding it up.
        if (err instanceof TaskWorkflowStuck) return { ok: false, reason: err.message };
        throw err;
      }
    },

    /** The task's PR conflicts with staging: back to its agent with the files. */
    async conflictTaskMerge(input: {
      taskId: string;
      mergeId: string;
      files: string[];
      actor?: Actor;
    }): Promise<void> {
      await settle(input.taskId, input.mergeId, mergeConflictUpdate, {
        mergeId: input.mergeId,
        files: input.files,
        actor: input.actor ?? SYSTEM_ACTOR,
      });
    },

    /** Gives the task back unmerged; it stays approved. */
    async endTaskMerge(input: {
      taskId: string;
      mergeId: string;
      reason: string;
      actor?: Actor;
    }): Promise<void> {
      await settle(input.taskId, input.mergeId, endMergeUpdate, {
        mergeId: input.mergeId,
        reason: input.reason,
        actor: input.actor ?? SYSTEM_ACTOR,
      });
    },

    /** The task's work is on staging and staging is deployed: the task reaches `staging`. */
    async markTaskStaged(input: { taskId: string; mergeId: string; actor?: Actor }): Promise<void> {
      await settle(input.taskId, input.mergeId, markStagedUpdate, {
        mergeId: input.mergeId,
        actor: input.actor ?? SYSTEM_ACTOR,
      });
    },

    /** The commit staging points at. */
    async stagingHead(input: { projectId: string }): Promise<string> {
      return await forgeStep(async () => {
        const { repo, forge } = await projectRepo(input.projectId);
        const head = await forge.branchHead(repo, STAGING_BRANCH);
        if (!head) throw new ForgeRefusal(`the repository has no ${STAGING_BRANCH} branch`);
        return head;
      });
    },

    /**
     * Merges exactly the approved commit of a task's PR into staging. The forge merges atomically
     * (base is before or after, never between) and a retry after success reports alreadyMerged.
     */
    async mergeTaskPullRequest(input: {
      projectId: string;
      taskId: string;
      prNumber: number;
      commit: string;
      message: string;
    }): Promise<MergeOutcome> {
      return await timed(
        merges,
        () =>
          forgeStep(async () => {
            const { repo, forge } = await projectRepo(input.projectId);
            return await forge.mergePullRequest(repo, {
              number: input.prNumber,
              commit: input.commit,
              message: input.message,
            });
          }),
        (outcome) =>
          !outcome.merged ? 'conflict' : outcome.alreadyMerged ? 'already_merged' : 'merged',
      );
    },

    /** Moves staging back to `to` if it still points at `expected` (the batch's own head). */
    async resetStaging(input: { projectId: string; to: string; expected: string }): Promise<void> {
      await forgeStep(async () => {
        const { repo, forge } = await projectRepo(input.projectId);
        await forge.resetBranch(repo, STAGING_BRANCH, { to: input.to, expected: input.expected });
      });
    },

    /**
     * Deploys staging at `commit`, heartbeating what the deployer reports. An unhealthy or refused
     * deployment is an answer (the batch rolls back), not a failure to retry.
     */
    async deployStaging(input: {
      projectId: string;
      commit: string;
    }): Promise<
      { ok: true; environment: string; url: string | null } | { ok: false; reason: string }
    > {
      const deploy = async () => {
        try {
          const result = await whileBeating(
            () =>
              staging.deploy({
                projectId: input.projectId,
                commit: input.commit,
                progress: beat,
              }),
            'deploying',
          );
          return { ok: true as const, ...result };
        } catch (err) {
          if (err instanceof DeployFailed || err instanceof DeployRefused)
            return { ok: false as const, reason: err.message };
          throw err;
        }
      };
      return await timed(stagingDeploys, deploy, (result) => (result.ok ? 'ok' : 'failed'));
    },

    /** Removes a staged task's preview; it has nothing left to show. */
    async teardownTaskPreview(input: { taskId: string }): Promise<void> {
      try {
        await whileBeating(() => previews.teardown(taskPreviewName(input.taskId)));
      } catch (err) {
        if (err instanceof CancelledFailure) throw err;
        // A preview left behind is removed by the TTL sweep; it must not fail a deployed batch.
        logger.warn(
          { taskId: input.taskId, err: (err as Error).message },
          'preview teardown failed',
        );
      }
    },
  };
}
