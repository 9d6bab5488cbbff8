import { z } from 'zod';
import { TASK_BATCH_MAX } from '../../contracts/task';
import { taskStateSchema } from '../../contracts/task-state';

const id = z.string().uuid('expected a UUID');
const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);

/** `:id` in a route. */
export const idParams = z.object({ id });

/** `POST /api/tasks`. */
export const createTaskBody = z
  .object({
    projectId: id,
    title: text(200),
    description: z.string().max(20_000, 'at most 20000 characters'),
    priority: z.number().int().min(-1000).max(1000).optional(),
  })
  .strict();

/**
 * One task of `POST /api/tasks/batch`: the fields of `POST /api/tasks`, with the project
 * optional (the batch's is used) and the description too (empty).
 */
const batchTask = createTaskBody.extend({
  projectId: id.optional(),
  description: createTaskBody.shape.description.default(''),
});

/** `POST /api/tasks/batch`: every task is checked before any is created. */
export const createTaskBatchBody = z
  .object({
    projectId: id.optional(),
    tasks: z
      .array(batchTask)
      .min(1, 'expected at least one task')
      .max(TASK_BATCH_MAX, `at most ${TASK_BATCH_MAX} tasks in one request`),
  })
  .strict()
  .superRefine((batch, ctx) => {
    batch.tasks.forEach((task, i) => {
      if (task.projectId === undefined && batch.projectId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', i, 'projectId'],
          message: 'required, on the task or once for the whole batch',
        });
      }
    });
  });

/** Most tasks one page of `GET /api/tasks` carries, and how many it carries unless asked. */
export const TASK_PAGE_MAX = 1000;
export const TASK_PAGE_DEFAULT = 500;

/** `GET /api/tasks?projectId=&state=&after=&limit=`: `after` is the last task of the previous page. */
export const listTasksQuery = z
  .object({
    projectId: id.optional(),
    state: taskStateSchema.optional(),
    after: id.optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(TASK_PAGE_MAX, `at most ${TASK_PAGE_MAX}`)
      .default(TASK_PAGE_DEFAULT),
  })
  .strict();

/** `POST /api/tasks/:id/respond`. */
export const respondBody = z.object({ answer: text(20_000), questionId: id.optional() }).strict();

/** `POST /api/tasks/:id/request-changes`. */
export const requestChangesBody = z.object({ feedback: text(20_000) }).strict();

/** `POST /api/tasks/:id/approve` takes no fields. */
export const approveBody = z.object({}).strict();

/** `POST /api/tasks/:id/cancel`. */
export const cancelBody = z.object({ reason: text(500).optional() }).strict();
