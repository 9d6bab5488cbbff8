import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { withinRequestDeadline } from '../../platform/request-context';
import { WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { enqueueMergeUpdate, mergeQueueWorkflowId } from '../../contracts/merge';
import type { MergeQueueInput } from '../../contracts/merge';
import { taskViewQuery } from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import type { TaskView } from '../../contracts/task';
import { findMerge, listMerges, tasksInOpenMerges } from '../../db/merges';
import { hasPendingTaskStart } from '../../db/task-starts';
import { findTask } from '../../db/tasks';
import { TaskWorkflowStuck } from '../../platform/errors';
import { queryTaskWorkflow } from '../../platform/task-updates';
import type { mergeQueueWorkflow } from '../../workflows/merge';
import type { ApiDeps } from '../deps';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { requireProjectFor } from '../projects/projects';
import { notStartedYet, updateError } from '../temporal-errors';
import { actorOf, maySeeProject, requireProjectAccess } from '../middleware/auth';
import { validate } from '../validate';
import { listMergesQuery, mergeBody, mergeIdParams } from './schema';

/** `/api/merge` and `/api/merges`: merge approved tasks into staging and follow the batches. */
export function mergeRoutes(deps: ApiDeps): Router {
  const router = Router();
  const client = deps.temporal.client;

  /** The task as its workflow knows it now (the read model may trail an approval by a moment). */
  const liveTask = async (taskId: string): Promise<TaskView> => {
    try {
      // A workflow stuck since the read model was last told (no sweep has marked it yet)
      // answers `TaskWorkflowStuck` within seconds.
      return await queryTaskWorkflow(
        client.workflow.getHandle(taskWorkflowId(taskId)),
        taskViewQuery,
      );
    } catch (err) {
      // No workflow, and its start still to do: it has not started yet (not ended).
      if (err instanceof WorkflowNotFoundError && (await hasPendingTaskStart(deps.db, taskId))) {
        throw notStartedYet();
      }
      throw updateError(err, () => 'finished') ?? err;
    }
  };

  router.post('/merge', async (req, res) => {
    const { taskIds } = validate(mergeBody, req.body, 'body');
    // A task in a project the person is not a member of is as unknown as one that does not
    // exist, and counts for nothing else (not even for the projects the batch spans).
    const records = (await Promise.all(taskIds.map((id) => findTask(deps.db, id)))).map((t) =>
      t && maySeeProject(req.principal!, t.projectId) ? t : undefined,
    );
    const unknown = taskIds.filter((_, i) => !records[i]);
    if (unknown.length) throw new NotFoundError(`tasks do not exist: ${unknown.join(', ')}`);
    const projectIds = new Set(records.map((t) => t!.projectId));
    if (projectIds.size > 1) {
      throw new ValidationError(
        `taskIds: every task must belong to one project; these span ${projectIds.size} projects`,
      );
    }
    const projectId = records[0]!.projectId;
    await requireProjectFor(deps, req.principal!, projectId, 'work');
    // A stuck task's workflow answers nothing: say so before asking it.
    const stuck = records.find((t) => t!.stuck);
    if (stuck) throw new TaskWorkflowStuck(stuck.id);

    // Finished task workflows (staged, cancelled) answer their last view too.
    const views = await Promise.all(taskIds.map(liveTask));
    const held = new Map(
      (await tasksInOpenMerges(deps.db, taskIds)).map((h) => [h.taskId, h.mergeId]),
    );
    const offending = views.flatMap((v) => {
      if (v.state !== 'approved') return [`${v.id} is ${v.state}`];
      const mergeId = v.mergeId ?? held.get(v.id);
      return mergeId ? [`${v.id} is already in merge ${mergeId}`] : [];
    });
    if (offending.length) {
      throw new ConflictError(
        `only approved tasks that are not in a merge can be merged: ${offending.join('; ')}`,
      );
    }

    const mergeId = randomUUID();
    const input: MergeQueueInput = { projectId, pending: [] };
    try {
      // The queue refuses a task that another request put in a batch since the checks above.
      await withinRequestDeadline(client.connection, () =>
        client.workflow.executeUpdateWithStart(enqueueMergeUpdate, {
          args: [{ mergeId, projectId, taskIds, actor: actorOf(req.principal!) }],
          updateId: mergeId,
          startWorkflowOperation: new WithStartWorkflowOperation<typeof mergeQueueWorkflow>(
            'mergeQueueWorkflow',
            {
              workflowId: mergeQueueWorkflowId(projectId),
              taskQueue: deps.taskQueue,
              args: [input],
              workflowIdConflictPolicy: 'USE_EXISTING',
            },
          ),
        }),
      );
    } catch (err) {
      throw updateError(err, () => 'finished') ?? err;
    }
    res.status(202).json({ mergeId });
  });

  router.get('/merges', async (req, res) => {
    const { projectId, after, limit } = validate(listMergesQuery, req.query, 'query');
    await requireProjectFor(deps, req.principal!, projectId, 'read');
    const merges = await listMerges(deps.db, projectId, { after, limit });
    if (!merges) {
      throw new ValidationError(`invalid query: after: project ${projectId} has no merge ${after}`);
    }
    res.json({ merges, next: merges.length === limit ? merges[merges.length - 1]!.id : null });
  });

  router.get('/merges/:id', async (req, res) => {
    const { id } = validate(mergeIdParams, req.params, 'params');
    const merge = await findMerge(deps.db, id);
    const unknown = () => new NotFoundError(`merge ${id} does not exist`);
    if (!merge) throw unknown();
    requireProjectAccess(req.principal!, merge.projectId, 'read', unknown);
    res.json(merge);
  });

  return router;
}
