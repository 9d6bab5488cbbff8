import { newTaskView } from '../contracts/task';
import type { TaskWorkflowInput } from '../contracts/task';
import type { Prisma } from '../generated/prisma/client';
import type { Db } from './client';
import { taskRowFields } from './tasks';

/**
 * Writes new tasks into the read model, each with the start of its workflow still to do, in one
 * transaction: once this returns, the tasks exist and their workflows will run (the API starts
 * them next; the worker's sweep starts any an API process did not live to start). Every input
 * carries `createdAt`. A task whose id is taken already is left as it is; returns how many were
 * written.
 */
export async function insertNewTasks(db: Db, inputs: TaskWorkflowInput[]): Promise<number> {
  const [tasks] = await db.$transaction([
    db.task.createMany({
      data: inputs.map((input) => {
        const createdAt = new Date(input.createdAt!);
        const view = newTaskView(input, createdAt);
        const row = { id: view.id, projectId: view.projectId, ...taskRowFields(view) };
        return { ...row, version: 0, createdAt, updatedAt: createdAt };
      }),
      skipDuplicates: true,
    }),
    db.taskStart.createMany({
      data: inputs.map((input) => ({
        taskId: input.task.id,
        input: input as unknown as Prisma.InputJsonValue,
        createdAt: new Date(input.createdAt!),
      })),
      skipDuplicates: true,
    }),
  ]);
  return tasks.count;
}

/** Workflow starts recorded before `before` and still to do, oldest first. */
export async function dueTaskStarts(
  db: Db,
  before: Date,
  limit: number,
): Promise<TaskWorkflowInput[]> {
  const rows = await db.taskStart.findMany({
    where: { createdAt: { lt: before } },
    orderBy: { createdAt: 'asc' },
    take: limit,
    select: { input: true },
  });
  return rows.map((r) => r.input as unknown as TaskWorkflowInput);
}

/** Drops the records of workflow starts that have happened. */
export async function forgetTaskStarts(db: Db, taskIds: string[]): Promise<void> {
  if (taskIds.length > 0) await db.taskStart.deleteMany({ where: { taskId: { in: taskIds } } });
}
