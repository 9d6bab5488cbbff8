import { SYSTEM_ACTOR, UNKNOWN_ACTOR } from '../contracts/actor';
import type { Actor, ActorKind } from '../contracts/actor';
import type { DeliveredEvent, EventPayloads, EventType, RecordedEvent } from '../contracts/events';
import type { TaskRecord, TaskView } from '../contracts/task';
import type { TaskState } from '../contracts/task-state';
import type { Prisma } from '../generated/prisma/client';

export type { TaskRecord } from '../contracts/task';
import type { Db } from './client';
import { recordAudit, taskAuditEntries } from './audit';
import { nextEventSeqs } from './event-seqs';
import { inDriverTransaction, placeholders, prismaRunner, sqlDateTime, storedTime } from './sql';

/** An event of the log with its project-wide position. */
export interface LoggedEvent extends RecordedEvent {
  seq: number;
  projectId: string;
  taskId: string | null;
  actor: Actor;
}

/** An event as clients receive it: its fields plus the envelope (README, "Live events"). */
export function deliveredEvent(e: LoggedEvent): DeliveredEvent {
  return { ...e.payload, projectId: e.projectId, seq: e.seq, at: e.at, actor: e.actor };
}

/** The columns that store an event's actor. */
export function actorColumns(actor: Actor | undefined) {
  const a = actor ?? UNKNOWN_ACTOR;
  return { actorKind: a.kind, actorId: a.id, actorName: a.name };
}

/** The actor stored with an event; events logged before actors were read as unknown. */
export function storedActor(r: {
  actorKind: string | null;
  actorId: string | null;
  actorName: string | null;
}): Actor {
  if (r.actorKind === null || r.actorId === null) return UNKNOWN_ACTOR;
  return { kind: r.actorKind as ActorKind, id: r.actorId, name: r.actorName ?? r.actorId };
}

/** The fields of a task's row that its workflow's view decides (the read model copies them). */
export function taskRowFields(view: TaskView) {
  return {
    title: view.title,
    description: view.description,
    priority: view.priority,
    state: view.state,
    assignedAgentId: view.assignedAgentId,
    branch: view.branch,
    prNumber: view.prNumber,
    prUrl: view.prUrl,
    previewUrl: view.previewUrl,
    previewCommit: view.previewCommit,
    approvedCommit: view.approvedCommit,
    mergeId: view.mergeId,
  };
}

/**
 * Writes one change of a task into the read model, idempotently: the row and its questions only
 * move forward (a change older than what is stored is ignored), and each event is stored once
 * (unique per task and `taskSeq`), however often the call is retried. Returns the events with
 * their positions in the log.
 */
export async function applyTaskChange(
  db: Db,
  change: { view: TaskView; version: number; events: RecordedEvent[] },
): Promise<LoggedEvent[]> {
  const { view, version, events } = change;
  // Sent by the driver, not Prisma: this runs for every change of every task (db/sql.ts).
  // Read committed: locking a task row that does not exist yet takes no gap lock, so two new
  // tasks projected at once do not deadlock on their inserts (a projection of the same new task
  // twice at once still meets the unique key, and its activity is retried).
  return await inDriverTransaction(db, async (sql) => {
    const fields = Object.entries({ ...taskRowFields(view), version });
    const assignments = `${fields.map(([c]) => `${c} = ?`).join(', ')}, updatedAt = ?`;
    // Most changes move a projected row forward: one statement, which finds and locks the row
    // in the same step. The others (a new row, the API's first row, a change projected before)
    // read the row's version first.
    let moved =
      (await sql.run(
        `UPDATE tasks SET ${assignments} WHERE id = ? AND version > 0 AND version < ?`,
        [...fields.map(([, v]) => v), sqlDateTime(new Date()), view.id, version],
      )) === 1;
    if (!moved) {
      const rows = await sql.rows<{ version: number }>(
        'SELECT version FROM tasks WHERE id = ? FOR UPDATE',
        [view.id],
      );
      const current = rows[0]?.version;
      if (current === undefined) {
        // A new task was last changed when it was created.
        const createdAt = sqlDateTime(view.createdAt);
        const columns = ['id', 'projectId', 'createdAt', 'updatedAt', ...fields.map(([c]) => c)];
        await sql.run(
          `INSERT INTO tasks (${columns.join(', ')}) VALUES ${placeholders(1, columns.length)}`,
          [view.id, view.projectId, createdAt, createdAt, ...fields.map(([, v]) => v)],
        );
        moved = true;
      } else if (current < version) {
        // The API's first row (db/task-starts.ts) takes its creation time: its workflow has
        // started and created it. Any later change is the row's last change until the next.
        const updatedAt = sqlDateTime(current === 0 ? view.createdAt : new Date());
        await sql.run(`UPDATE tasks SET ${assignments} WHERE id = ?`, [
          ...fields.map(([, v]) => v),
          updatedAt,
          view.id,
        ]);
        if (current === 0) await sql.run('DELETE FROM task_starts WHERE taskId = ?', [view.id]);
        moved = true;
      }
    }
    if (moved && view.questions.length > 0) {
      // Every question in one statement: inserted, or brought to the view's state.
      await sql.run(
        `INSERT INTO task_questions (id, taskId, agentId, question, answer, askedAt, answeredAt) VALUES ${placeholders(view.questions.length, 7)} ` +
          'ON DUPLICATE KEY UPDATE agentId = VALUES(agentId), question = VALUES(question), answer = VALUES(answer), askedAt = VALUES(askedAt), answeredAt = VALUES(answeredAt)',
        view.questions.flatMap((q) => [
          q.id,
          view.id,
          q.agentId,
          q.question,
          q.answer,
          sqlDateTime(q.askedAt),
          q.answeredAt ? sqlDateTime(q.answeredAt) : null,
        ]),
      );
    }
    await recordAudit(sql, taskAuditEntries(view.id, view.projectId, events));
    // A retried projection finds its events stored already: only the others are numbered.
    // A row behind this change's version cannot have them: a change's events are its own, and
    // the transaction that stores them also moves the row to their version, or finds it there
    // or beyond. (A task without a row, or with the API's first row, has no events yet.)
    const stored = moved
      ? []
      : await sql.rows<{ seq: bigint | number; taskSeq: number }>(
          `SELECT seq, taskSeq FROM task_events WHERE taskId = ? AND taskSeq IN ${placeholders(1, events.length)}`,
          [view.id, ...events.map((e) => e.taskSeq)],
        );
    const seqOf = new Map(stored.map((s) => [s.taskSeq, Number(s.seq)]));
    const fresh = events.filter((e) => !seqOf.has(e.taskSeq));
    if (fresh.length > 0) {
      const first = await nextEventSeqs(sql, view.projectId, fresh.length);
      await sql.run(
        'INSERT INTO task_events (projectId, seq, taskId, taskSeq, type, payload, createdAt, actorKind, actorId, actorName) VALUES ' +
          placeholders(fresh.length, 10),
        fresh.flatMap((e, i) => {
          const actor = actorColumns(e.actor);
          return [
            view.projectId,
            first + BigInt(i),
            view.id,
            e.taskSeq,
            e.type,
            JSON.stringify(e.payload),
            sqlDateTime(e.at),
            actor.actorKind,
            actor.actorId,
            actor.actorName,
          ];
        }),
      );
      fresh.forEach((e, i) => seqOf.set(e.taskSeq, Number(first) + i));
    }
    return events.map((e) => ({
      ...e,
      actor: e.actor ?? UNKNOWN_ACTOR,
      seq: seqOf.get(e.taskSeq)!,
      projectId: view.projectId,
      taskId: view.id,
    }));
  });
}

type TaskRow = Prisma.TaskGetPayload<{ include: { questions: true } }>;

function present(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    projectId: row.projectId,
    title: row.title,
    description: row.description,
    priority: row.priority,
    state: row.state,
    assignedAgentId: row.assignedAgentId,
    branch: row.branch,
    prNumber: row.prNumber,
    prUrl: row.prUrl,
    previewUrl: row.previewUrl,
    previewCommit: row.previewCommit,
    approvedCommit: row.approvedCommit,
    mergeId: row.mergeId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    stuck: row.stuckSince
      ? {
          since: row.stuckSince.toISOString(),
          reason: row.stuckReason ?? 'its workflow is failing',
        }
      : null,
    questions: row.questions.map((q) => ({
      id: q.id,
      question: q.question,
      answer: q.answer,
      askedAt: q.askedAt.toISOString(),
      answeredAt: q.answeredAt?.toISOString() ?? null,
    })),
  };
}

/** One task with its questions, or undefined. */
export async function findTask(db: Db, id: string): Promise<TaskRecord | undefined> {
  const row = await db.task.findUnique({
    where: { id },
    include: { questions: { orderBy: { askedAt: 'asc' } } },
  });
  return row ? present(row) : undefined;
}

/** Whose a task is and how far it has got: what an agent's call on it checks first. */
export type TaskHolding = Pick<TaskRecord, 'id' | 'projectId' | 'state' | 'assignedAgentId'>;

/**
 * A task's holder and state, without the rest of its row or its questions (one query, sent by
 * the driver: an agent's every call on a task asks it).
 */
export async function findTaskHolding(db: Db, id: string): Promise<TaskHolding | undefined> {
  const [row] = await db.sql.execute<TaskHolding[]>(
    'SELECT id, projectId, state, assignedAgentId FROM tasks WHERE id = ?',
    [id],
  );
  return row;
}

/** What the tasks among `ids` that exist were created with (a creation sent again finds them). */
export async function findTaskContents(
  db: Db,
  ids: string[],
): Promise<Array<Pick<TaskRecord, 'id' | 'projectId' | 'title' | 'description' | 'priority'>>> {
  return await db.task.findMany({
    where: { id: { in: ids } },
    select: { id: true, projectId: true, title: true, description: true, priority: true },
  });
}

/** A page of a task list: at most `limit` tasks, the ones listed after task `after`. */
export interface TaskPage {
  after?: string;
  limit: number;
}

/**
 * Tasks, optionally of one project and in one state: highest priority first, then oldest, then
 * by id, one page at a time. Undefined when `page.after` names no task.
 */
export async function listTasks(
  db: Db,
  filter: { projectId?: string; state?: TaskState; projectIds?: string[] },
  page: TaskPage,
): Promise<TaskRecord[] | undefined> {
  const { projectIds, ...exact } = filter;
  const where: Prisma.TaskWhereInput[] = [exact];
  if (projectIds) where.push({ projectId: { in: projectIds } });
  if (page.after) {
    const from = await db.task.findUnique({
      where: { id: page.after },
      select: { priority: true, createdAt: true },
    });
    if (!from) return undefined;
    where.push({
      OR: [
        { priority: { lt: from.priority } },
        { priority: from.priority, createdAt: { gt: from.createdAt } },
        { priority: from.priority, createdAt: from.createdAt, id: { gt: page.after } },
      ],
    });
  }
  const rows = await db.task.findMany({
    where: { AND: where },
    include: { questions: { orderBy: { askedAt: 'asc' } } },
    orderBy: [{ priority: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }],
    take: page.limit,
  });
  return rows.map(present);
}

/** Ids of the tasks an agent holds in one of `states`, oldest first. */
export async function tasksHeldBy(db: Db, agentId: string, states: TaskState[]): Promise<string[]> {
  return (await heldTasks(db, agentId, states)).map((t) => t.id);
}

/** An agent's tasks in the given states, oldest first, with their projects. */
export async function heldTasks(
  db: Db,
  agentId: string,
  states: TaskState[],
): Promise<
  Array<{
    id: string;
    projectId: string;
    state: TaskState;
    updatedAt: Date;
    stuckSince: Date | null;
  }>
> {
  if (states.length === 0) return [];
  // Sent by the driver: every get_next_task asks it (db/sql.ts). Times are read as the text
  // MySQL stores, UTC as Prisma writes it.
  const rows = await db.sql.execute<
    Array<{
      id: string;
      projectId: string;
      state: TaskState;
      updatedAt: string;
      stuckSince: string | null;
    }>
  >(
    {
      sql: `SELECT id, projectId, state, updatedAt, stuckSince FROM tasks WHERE assignedAgentId = ? AND state IN ${placeholders(1, states.length)} ORDER BY createdAt ASC`,
      dateStrings: true,
    },
    [agentId, ...states],
  );
  return rows.map((r) => ({
    ...r,
    updatedAt: storedTime(r.updatedAt),
    stuckSince: r.stuckSince === null ? null : storedTime(r.stuckSince),
  }));
}

/** The project's events after `afterSeq`, oldest first, at most `limit`. */
export async function eventsAfter(
  db: Db,
  projectId: string,
  afterSeq: number,
  limit: number,
): Promise<LoggedEvent[]> {
  const rows = await db.taskEvent.findMany({
    where: { projectId, seq: { gt: BigInt(afterSeq) } },
    orderBy: { seq: 'asc' },
    take: limit,
  });
  return rows.map(logged);
}

function logged(r: Awaited<ReturnType<Db['taskEvent']['findFirstOrThrow']>>): LoggedEvent {
  return {
    seq: Number(r.seq),
    projectId: r.projectId,
    taskId: r.taskId,
    taskSeq: r.taskSeq ?? 0,
    type: r.type as LoggedEvent['type'],
    payload: r.payload as unknown as LoggedEvent['payload'],
    at: r.createdAt.toISOString(),
    actor: storedActor(r),
  };
}

/** Appends an event that no task workflow numbers (e.g. a preview removed by the clean-up). */
export async function appendProjectEvent<T extends EventType>(
  db: Db,
  event: {
    projectId: string;
    taskId: string | null;
    type: T;
    payload: EventPayloads[T];
    actor?: Actor;
  },
): Promise<LoggedEvent> {
  const row = await db.$transaction(async (tx) =>
    tx.taskEvent.create({
      data: {
        projectId: event.projectId,
        seq: await nextEventSeqs(prismaRunner(tx), event.projectId, 1),
        taskId: event.taskId,
        type: event.type,
        payload: event.payload,
        ...actorColumns(event.actor ?? SYSTEM_ACTOR),
      },
    }),
  );
  return logged(row);
}

/** Every event of one task, oldest first (at most `limit`). */
export async function taskEvents(
  db: Db,
  taskId: string,
  after: number,
  limit: number,
): Promise<LoggedEvent[]> {
  const rows = await db.taskEvent.findMany({
    where: { taskId, seq: { gt: after } },
    orderBy: { seq: 'asc' },
    take: limit,
  });
  return rows.map(logged);
}

/**
 * Tasks an agent may take, best first: its own tasks sent back for changes, then backlog tasks
 * by priority (highest first) and age (oldest first). `projectIds` null means every project.
 */
export async function claimCandidates(
  db: Db,
  filter: { agentId: string; projectIds: string[] | null; limit: number },
): Promise<Array<{ id: string; projectId: string }>> {
  const { agentId, projectIds, limit } = filter;
  if (projectIds?.length === 0) return [];
  // One statement, sent by the driver: every get_next_task asks it at least once (db/sql.ts).
  const inProjects = projectIds ? ` AND projectId IN ${placeholders(1, projectIds.length)}` : '';
  const part = (which: number, where: string) =>
    `(SELECT ${which} AS part, id, projectId, priority, createdAt FROM tasks WHERE ${where} AND stuckSince IS NULL${inProjects} ORDER BY priority DESC, createdAt ASC LIMIT ?)`;
  // A stuck task cannot be claimed; it must not keep agents from the next one.
  const rows = await db.sql.execute<Array<{ id: string; projectId: string }>>(
    `${part(0, "state = 'changes_requested' AND assignedAgentId = ?")} UNION ALL ${part(1, "state = 'backlog'")} ` +
      'ORDER BY part, priority DESC, createdAt ASC',
    [agentId, ...(projectIds ?? []), limit, ...(projectIds ?? []), limit],
  );
  return rows.map((r) => ({ id: r.id, projectId: r.projectId }));
}

/** A task whose workflow the stuck-task sweep found failing. */
export interface StuckTask {
  id: string;
  projectId: string;
  title: string;
  state: TaskState;
  since: string;
  reason: string;
}

/** Every task marked stuck, oldest mark first. */
export async function listStuckTasks(db: Db): Promise<StuckTask[]> {
  const rows = await db.task.findMany({
    where: { stuckSince: { not: null } },
    orderBy: { stuckSince: 'asc' },
    select: {
      id: true,
      projectId: true,
      title: true,
      state: true,
      stuckSince: true,
      stuckReason: true,
    },
  });
  return rows.map((r) => ({
    id: r.id,
    projectId: r.projectId,
    title: r.title,
    state: r.state,
    since: r.stuckSince!.toISOString(),
    reason: r.stuckReason ?? 'its workflow is failing',
  }));
}

/**
 * Marks a task stuck unless it already is; answers its project when this call marked it (so a
 * sweep run by several workers reports each task once), undefined otherwise.
 */
export async function markTaskStuck(
  db: Db,
  taskId: string,
  stuck: { since: Date; reason: string },
): Promise<string | undefined> {
  const { count } = await db.task.updateMany({
    where: { id: taskId, stuckSince: null },
    data: { stuckSince: stuck.since, stuckReason: stuck.reason.slice(0, 500) },
  });
  if (count === 0) return undefined;
  return (await db.task.findUnique({ where: { id: taskId }, select: { projectId: true } }))
    ?.projectId;
}

/** Clears a task's stuck mark; answers its project when this call cleared it. */
export async function clearTaskStuck(db: Db, taskId: string): Promise<string | undefined> {
  const { count } = await db.task.updateMany({
    where: { id: taskId, stuckSince: { not: null } },
    data: { stuckSince: null, stuckReason: null },
  });
  if (count === 0) return undefined;
  return (await db.task.findUnique({ where: { id: taskId }, select: { projectId: true } }))
    ?.projectId;
}
