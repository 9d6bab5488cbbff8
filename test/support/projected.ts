import type { Db } from '../../db/client';

/**
 * Waits until each task's workflow has projected it (its row at version 1 or later): `POST
 * /api/tasks` answers with the row it wrote, before the workflow's first workflow task runs.
 */
export async function untilProjected(db: Db, taskIds: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await db.task.count({ where: { id: { in: taskIds }, version: { gt: 0 } } });
    if (done === taskIds.length) return;
    if (Date.now() > deadline) {
      throw new Error(`${taskIds.length - done} of ${taskIds.length} tasks not projected in time`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
