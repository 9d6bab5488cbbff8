import type { Prisma } from '../generated/prisma/client';
import type { EventPayloads, EventType } from '../contracts/events';
import type { MergeChange, MergeTaskResult, MergeView } from '../contracts/merge';
import type { Db } from './client';
import { nextEventSeqs } from './event-seqs';
import { prismaRunner } from './sql';
import { actorColumns, storedActor } from './tasks';
import type { LoggedEvent } from './tasks';

export type { MergeChange, MergeEvent, MergeFields } from '../contracts/merge';

/**
 * Writes one step of a merge batch, idempotently: the row moves forward only (a retried or late
 * step is ignored) and the step's events are stored once. Merge events belong to the project, not
 * to a task, so they are logged with no taskId and `taskSeq` = the step number; a retry finds
 * the events it stored the first time (by step and mergeId) and answers them again, so they can
 * still be published.
 */
export async function applyMergeChange(db: Db, change: MergeChange): Promise<LoggedEvent[]> {
  const { mergeId, projectId, version } = change;
  return await db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<
      Array<{ version: number }>
    >`SELECT version FROM merges WHERE id = ${mergeId} FOR UPDATE`;
    const current = rows[0]?.version;
    if (current !== undefined && current >= version) {
      const stored = await tx.taskEvent.findMany({
        where: {
          projectId,
          taskId: null,
          taskSeq: version,
          payload: { path: '$.mergeId', equals: mergeId },
        },
        orderBy: { seq: 'asc' },
      });
      return stored.map((r) => ({
        seq: Number(r.seq),
        projectId,
        taskId: null,
        taskSeq: version,
        type: r.type as EventType,
        payload: r.payload as unknown as EventPayloads[EventType],
        at: r.createdAt.toISOString(),
        actor: storedActor(r),
      }));
    }
    if (current === undefined) {
      await tx.merge.create({ data: { id: mergeId, projectId, ...change.merge, version } });
    } else {
      await tx.merge.update({ where: { id: mergeId }, data: { ...change.merge, version } });
    }
    for (const t of change.tasks) {
      const data = { position: t.position, result: t.result, commit: t.commit, detail: t.detail };
      await tx.mergeTask.upsert({
        where: { mergeId_taskId: { mergeId, taskId: t.taskId } },
        create: { mergeId, taskId: t.taskId, ...data },
        update: data,
      });
    }
    const logged: LoggedEvent[] = [];
    const first =
      change.events.length > 0
        ? await nextEventSeqs(prismaRunner(tx), projectId, change.events.length)
        : 0n;
    for (const [i, e] of change.events.entries()) {
      const row = await tx.taskEvent.create({
        data: {
          projectId,
          seq: first + BigInt(i),
          taskId: null,
          taskSeq: version,
          type: e.type,
          payload: e.payload,
          createdAt: new Date(e.at),
          ...actorColumns(e.actor),
        },
      });
      logged.push({
        ...e,
        actor: storedActor(row),
        seq: Number(row.seq),
        projectId,
        taskId: null,
        taskSeq: version,
      });
    }
    return logged;
  });
}

type MergeRow = Prisma.MergeGetPayload<{ include: { tasks: true } }>;

function present(row: MergeRow): MergeView {
  return {
    id: row.id,
    projectId: row.projectId,
    state: row.state,
    tasks: [...row.tasks]
      .sort((a, b) => a.position - b.position)
      .map((t) => ({
        taskId: t.taskId,
        result: t.result as MergeTaskResult,
        commit: t.commit,
        detail: t.detail,
      })),
    baseSha: row.baseSha,
    headSha: row.headSha,
    environment: row.environment,
    deployUrl: row.deployUrl,
    detail: row.detail,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** One merge batch with its tasks, or undefined. */
export async function findMerge(db: Db, id: string): Promise<MergeView | undefined> {
  const row = await db.merge.findUnique({ where: { id }, include: { tasks: true } });
  return row ? present(row) : undefined;
}

/**
 * A project's merge batches, newest first, one page at a time: at most `page.limit`, the ones
 * older than batch `page.after`. Undefined when `page.after` names no batch of the project.
 */
export async function listMerges(
  db: Db,
  projectId: string,
  page: { after?: string; limit: number },
): Promise<MergeView[] | undefined> {
  const where: Prisma.MergeWhereInput[] = [{ projectId }];
  if (page.after) {
    const from = await db.merge.findFirst({
      where: { id: page.after, projectId },
      select: { createdAt: true },
    });
    if (!from) return undefined;
    where.push({
      OR: [
        { createdAt: { lt: from.createdAt } },
        { createdAt: from.createdAt, id: { lt: page.after } },
      ],
    });
  }
  const rows = await db.merge.findMany({
    where: { AND: where },
    include: { tasks: true },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: page.limit,
  });
  return rows.map(present);
}

/**
 * Which of `taskIds` a batch that has not finished already holds (queued batches included, whose
 * tasks do not yet carry a mergeId), with that batch's id.
 */
export async function tasksInOpenMerges(
  db: Db,
  taskIds: string[],
): Promise<Array<{ taskId: string; mergeId: string }>> {
  const rows = await db.mergeTask.findMany({
    where: {
      taskId: { in: taskIds },
      result: { in: ['pending', 'merged'] },
      merge: { state: { in: ['queued', 'merging', 'deploying'] } },
    },
    select: { taskId: true, mergeId: true },
  });
  return rows;
}
