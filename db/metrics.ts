import type { TaskState } from '../contracts/task-state';
import type { Db } from './client';

/**
 * How many tasks each project has in each state, and how many of them are marked stuck (their
 * workflow fails every workflow task); pairs with no task are left out.
 */
export async function taskCountsByState(
  db: Db,
): Promise<Array<{ projectId: string; state: TaskState; count: number; stuck: number }>> {
  const rows = await db.task.groupBy({
    by: ['projectId', 'state'],
    _count: { _all: true, stuckSince: true },
  });
  return rows.map((r) => ({
    projectId: r.projectId,
    state: r.state,
    count: r._count._all,
    stuck: r._count.stuckSince,
  }));
}

/**
 * The questions people have not answered yet, of tasks that wait for them (`needs_input`: a
 * cancelled task's unanswered question waits for no one), and when the oldest was asked.
 */
export async function openQuestions(
  db: Db,
): Promise<{ count: number; oldestAskedAt: Date | null }> {
  const open = await db.taskQuestion.aggregate({
    where: { answer: null, task: { state: 'needs_input' } },
    _count: { _all: true },
    _min: { askedAt: true },
  });
  return { count: open._count._all, oldestAskedAt: open._min.askedAt };
}
