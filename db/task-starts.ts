import { newTaskView } from '../contracts/task';
import type { TaskWorkflowInput } from '../contracts/task';
import type { Db } from './client';
import { inDriverTransaction, placeholders, sqlDateTime } from './sql';
import { taskRowFields } from './tasks';

/**
 * Writes new tasks into the read model, each with the start of its workflow still to do, in one
 * transaction: once this returns, the tasks exist and their workflows will run (the API starts
 * them next; the worker's sweep starts any an API process did not live to start). Every input
 * carries `createdAt`. A task whose id is taken already is left as it is; returns how many were
 * written.
 */
export async function insertNewTasks(db: Db, inputs: TaskWorkflowInput[]): Promise<number> {
  const rows = inputs.map((input) => {
    const createdAt = sqlDateTime(input.createdAt!);
    const view = newTaskView(input, new Date(input.createdAt!));
    return {
      id: view.id,
      projectId: view.projectId,
      version: 0,
      createdAt,
      updatedAt: createdAt,
      ...taskRowFields(view),
    };
  });
  const columns = Object.keys(rows[0] ?? {});
  if (columns.length === 0) return 0;
  // Sent by the driver: a creation's one write (db/sql.ts). IGNORE leaves a task whose id is
  // taken as it is.
  return await inDriverTransaction(db, async (sql) => {
    const written = await sql.run(
      `INSERT IGNORE INTO tasks (${columns.join(', ')}) VALUES ${placeholders(rows.length, columns.length)}`,
      rows.flatMap((row) => Object.values(row)),
    );
    await sql.run(
      `INSERT IGNORE INTO task_starts (taskId, input, createdAt) VALUES ${placeholders(inputs.length, 3)}`,
      inputs.flatMap((input) => [
        input.task.id,
        JSON.stringify(input),
        sqlDateTime(input.createdAt!),
      ]),
    );
    return written;
  });
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

/**
 * Whether a task's workflow start is still recorded as to do: the API wrote the task but could
 * not start its workflow (the worker's sweep will), or started it moments ago.
 */
export async function hasPendingTaskStart(db: Db, taskId: string): Promise<boolean> {
  return (await db.taskStart.count({ where: { taskId } })) > 0;
}
