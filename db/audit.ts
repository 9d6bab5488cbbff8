import type { Actor, ActorKind } from '../contracts/actor';
import type { RecordedEvent } from '../contracts/events';
import type { Db } from './client';
import { placeholders, sqlDateTime } from './sql';
import type { SqlRunner } from './sql';

/** One thing a person did, as `GET /api/audit` lists it. */
export interface AuditRecord {
  id: string;
  at: string;
  action: string;
  actor: Actor;
  projectId: string | null;
  taskId: string | null;
  detail: Record<string, unknown> | null;
}

export interface NewAuditEntry {
  /** Unique per change, so a retried write stores it once. */
  key: string;
  action: string;
  actor: Actor;
  projectId?: string | null;
  taskId?: string | null;
  detail?: Record<string, unknown>;
  /** When it happened (ISO 8601); now when absent. */
  at?: string;
}

/** Stores entries; one whose key is stored already is left as it is. */
export async function recordAudit(sql: SqlRunner, entries: NewAuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await sql.run(
    'INSERT IGNORE INTO audit_entries (`key`, action, actorKind, actorId, actorName, projectId, taskId, detail, createdAt) VALUES ' +
      placeholders(entries.length, 9),
    entries.flatMap((e) => [
      e.key,
      e.action,
      e.actor.kind,
      e.actor.id,
      e.actor.name,
      e.projectId ?? null,
      e.taskId ?? null,
      e.detail === undefined ? null : JSON.stringify(e.detail),
      sqlDateTime(e.at ?? new Date()),
    ]),
  );
}

/** Whether an actor is a person (or the operator): whose actions the audit log keeps. */
export function isPerson(actor: Actor | undefined): actor is Actor {
  return actor?.kind === 'user' || actor?.kind === 'admin';
}

/**
 * The people's actions among a task's events: creating, answering, approving, requesting
 * changes, cancelling and merging. Agents' and aiworker's own events stay in the event log only.
 */
export function taskAuditEntries(taskId: string, projectId: string, events: RecordedEvent[]) {
  const entries: NewAuditEntry[] = [];
  for (const e of events) {
    if (!isPerson(e.actor)) continue;
    const action = auditAction(e);
    if (!action) continue;
    entries.push({
      key: `task:${taskId}:${e.taskSeq}`,
      action: action.name,
      actor: e.actor,
      projectId,
      taskId,
      at: e.at,
      ...(action.detail ? { detail: action.detail } : {}),
    });
  }
  return entries;
}

function auditAction(e: RecordedEvent): { name: string; detail?: Record<string, unknown> } | null {
  const p = e.payload as unknown as Record<string, unknown>;
  switch (e.type) {
    case 'task:created':
      return { name: 'task.created', detail: { title: p.title } };
    case 'task:question_answered':
      return { name: 'task.answered', detail: { questionId: p.questionId } };
    case 'task:changes_requested':
      return { name: 'task.changes_requested', detail: { feedback: p.feedback } };
    case 'task:merge_started':
      return { name: 'task.merge_started', detail: { mergeId: p.mergeId } };
    case 'task:status_changed':
      if (p.newState === 'approved') return { name: 'task.approved' };
      if (p.newState === 'cancelled') return { name: 'task.cancelled' };
      return null;
    default:
      return null;
  }
}

/** Entries after `after` (an entry id), oldest first; of one project when given. */
export async function listAudit(
  db: Db,
  filter: { projectId?: string; after: number; limit: number },
): Promise<AuditRecord[]> {
  const rows = await db.auditEntry.findMany({
    where: {
      id: { gt: BigInt(filter.after) },
      ...(filter.projectId ? { projectId: filter.projectId } : {}),
    },
    orderBy: { id: 'asc' },
    take: filter.limit,
  });
  return rows.map((r) => ({
    id: String(r.id),
    at: r.createdAt.toISOString(),
    action: r.action,
    actor: { kind: r.actorKind as ActorKind, id: r.actorId, name: r.actorName },
    projectId: r.projectId,
    taskId: r.taskId,
    detail: (r.detail as Record<string, unknown> | null) ?? null,
  }));
}
