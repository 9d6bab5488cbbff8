import { randomUUID } from 'node:crypto';
import type {
  RecordedWebhookChange,
  WebhookDeliveryRecord,
  WebhookDeliveryState,
  WebhookEvent,
  WebhookRecord,
} from '../contracts/webhook';
import type { Db } from './client';
import { prismaRunner } from './sql';
import type { SqlRunner } from './sql';
import type { LoggedEvent } from './tasks';

/** A webhook change names a webhook its project does not have. */
export class UnknownWebhook extends Error {
  constructor(webhookId: string, projectId: string) {
    super(`project ${projectId} has no webhook ${webhookId}`);
    this.name = 'UnknownWebhook';
  }
}

/** A creation's secret is no longer waiting under its reference (it expired, or never was). */
export class WebhookSecretGone extends Error {
  constructor(webhookId: string) {
    super(
      `the secret of webhook ${webhookId} is no longer waiting to be stored (it expired): create the webhook again`,
    );
    this.name = 'WebhookSecretGone';
  }
}

/**
 * How long a new webhook's secret waits for the workflow that stores it: far longer than any
 * request waits, so only a workflow that did not run for a day (no worker) finds it gone.
 */
export const PENDING_SECRET_TTL_MS = 24 * 3_600_000;

/**
 * Stores a new webhook's secret where its creation's activity will take it from, and answers the
 * reference the workflow carries instead of the secret. Deletes the secrets that expired
 * meanwhile (their workflows never ran). The one write the API makes for webhooks.
 */
export async function stashWebhookSecret(
  db: Db,
  webhookId: string,
  secret: string,
  now = new Date(),
): Promise<string> {
  const id = randomUUID();
  await forgetExpiredWebhookSecrets(db, now);
  await db.webhookPendingSecret.create({ data: { id, webhookId, secret, createdAt: now } });
  return id;
}

/**
 * Deletes the pending secrets older than `PENDING_SECRET_TTL_MS` (their creation's workflow never
 * ran): at each new webhook and at the worker's periodic sweep.
 */
export async function forgetExpiredWebhookSecrets(db: Db, now = new Date()): Promise<number> {
  const { count } = await db.webhookPendingSecret.deleteMany({
    where: { createdAt: { lt: new Date(now.getTime() - PENDING_SECRET_TTL_MS) } },
  });
  return count;
}

/** What a deletion records in its own transaction, and how its retry finds that it happened. */
export interface WebhookDeletion {
  /** Runs in the deletion's transaction, after the row is gone. */
  deleted(sql: SqlRunner, webhook: WebhookRecord): Promise<void>;
  /** The webhook this same deletion removed before (its retry finds the row gone), or undefined. */
  deletedBefore(sql: SqlRunner): Promise<WebhookRecord | undefined>;
}

/**
 * Creates or deletes a webhook, idempotently: creating one that exists answers it; deleting one
 * that is gone is refused (the API answers 404), unless `deletion` says this same deletion
 * removed it. Deleting ends its pending deliveries. A creation takes its secret from its pending
 * row (or, recorded by an earlier release, from the change).
 */
export async function changeWebhook(
  db: Db,
  change: RecordedWebhookChange,
  deletion?: WebhookDeletion,
): Promise<WebhookRecord> {
  if (change.action === 'create') {
    const { webhookId: id, projectId, url, events } = change;
    if ('secret' in change) {
      await db.webhook.upsert({
        where: { id },
        create: { id, projectId, url, secret: change.secret, events },
        update: {},
      });
    } else {
      await db.$transaction(async (tx) => {
        const pending = await tx.webhookPendingSecret.findFirst({
          where: { id: change.secretRef, webhookId: id },
        });
        const stored = await tx.webhook.findUnique({ where: { id }, select: { id: true } });
        // Stored by an earlier attempt, which took the secret with it: nothing left to do.
        if (!pending && stored) return;
        if (!pending) throw new WebhookSecretGone(id);
        // An attempt running at the same time as this one makes this insert fail on the key;
        // the retry that follows finds the webhook stored.
        if (!stored) {
          await tx.webhook.create({
            data: { id, projectId, url, secret: pending.secret, events },
          });
        }
        await tx.webhookPendingSecret.delete({ where: { id: pending.id } });
      });
    }
    return (await findWebhook(db, projectId, id))!;
  }
  return await db.$transaction(async (tx) => {
    const existing = await findWebhook(tx, change.projectId, change.webhookId);
    if (!existing) {
      const earlier = await deletion?.deletedBefore(prismaRunner(tx));
      if (earlier) return earlier;
      throw new UnknownWebhook(change.webhookId, change.projectId);
    }
    await tx.webhook.delete({ where: { id: change.webhookId } });
    await deletion?.deleted(prismaRunner(tx), existing);
    return existing;
  });
}

const NO_DELIVERIES: Record<WebhookDeliveryState, number> = {
  pending: 0,
  delivered: 0,
  failed: 0,
};

/** A project's webhooks with how their deliveries stand. */
export async function listWebhooks(
  db: Pick<Db, 'webhook' | 'webhookDelivery'>,
  projectId: string,
): Promise<WebhookRecord[]> {
  const rows = await db.webhook.findMany({ where: { projectId }, orderBy: { createdAt: 'asc' } });
  if (rows.length === 0) return [];
  const counts = await db.webhookDelivery.groupBy({
    by: ['webhookId', 'state'],
    where: { webhookId: { in: rows.map((r) => r.id) } },
    _count: { _all: true },
  });
  return rows.map((r) => {
    const deliveries = { ...NO_DELIVERIES };
    for (const c of counts) if (c.webhookId === r.id) deliveries[c.state] = c._count._all;
    return {
      id: r.id,
      projectId: r.projectId,
      url: r.url,
      events: r.events as WebhookEvent[],
      createdAt: r.createdAt.toISOString(),
      deliveries,
    };
  });
}

export async function findWebhook(
  db: Pick<Db, 'webhook' | 'webhookDelivery'>,
  projectId: string,
  webhookId: string,
): Promise<WebhookRecord | undefined> {
  return (await listWebhooks(db, projectId)).find((w) => w.id === webhookId);
}

/** A webhook's latest deliveries, newest first. */
export async function listDeliveries(
  db: Db,
  webhookId: string,
  limit: number,
): Promise<WebhookDeliveryRecord[]> {
  const rows = await db.webhookDelivery.findMany({
    where: { webhookId },
    orderBy: [{ createdAt: 'desc' }, { eventSeq: 'desc' }],
    take: limit,
  });
  return rows.map((r) => ({
    id: r.id,
    eventSeq: Number(r.eventSeq),
    eventType: r.eventType,
    state: r.state,
    attempts: r.attempts,
    lastStatus: r.lastStatus,
    lastError: r.lastError,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
  }));
}

/**
 * The deliveries a project's new events call for: one per webhook and event it chose, stored
 * once however often this runs (unique per webhook and event). Answers each pair.
 */
export async function addDeliveries(
  db: Db,
  projectId: string,
  events: LoggedEvent[],
): Promise<Array<{ webhookId: string; eventSeq: number }>> {
  if (events.length === 0) return [];
  // Asked after every task change (the projection): sent by the driver (db/sql.ts).
  const hooks = await db.sql.execute<Array<{ id: string; events: string | string[] }>>(
    'SELECT id, events FROM webhooks WHERE projectId = ?',
    [projectId],
  );
  const pairs = hooks.flatMap((h) => {
    const chosen = new Set<string>(
      typeof h.events === 'string' ? (JSON.parse(h.events) as string[]) : h.events,
    );
    return events
      .filter((e) => chosen.has(e.type))
      .map((e) => ({ webhookId: h.id, eventSeq: e.seq, eventType: e.type }));
  });
  if (pairs.length === 0) return [];
  await db.webhookDelivery.createMany({
    data: pairs.map((p) => ({ id: randomUUID(), ...p, eventSeq: BigInt(p.eventSeq) })),
    skipDuplicates: true,
  });
  return pairs.map(({ webhookId, eventSeq }) => ({ webhookId, eventSeq }));
}

/** What one delivery sends: the webhook's address and secret, and the event from the log. */
export async function deliveryToSend(db: Db, webhookId: string, eventSeq: number) {
  const delivery = await db.webhookDelivery.findUnique({
    where: { webhookId_eventSeq: { webhookId, eventSeq: BigInt(eventSeq) } },
    include: { webhook: true },
  });
  if (!delivery) return undefined;
  const event = await db.taskEvent.findUnique({
    where: {
      projectId_seq: { projectId: delivery.webhook.projectId, seq: BigInt(eventSeq) },
    },
  });
  if (!event) return undefined;
  return { delivery, webhook: delivery.webhook, event };
}

/** Records one attempt's outcome. */
export async function recordAttempt(
  db: Db,
  deliveryId: string,
  outcome: { delivered: boolean; status: number | null; error: string | null },
): Promise<void> {
  await db.webhookDelivery.update({
    where: { id: deliveryId },
    data: {
      attempts: { increment: 1 },
      lastStatus: outcome.status,
      lastError: outcome.error?.slice(0, 500) ?? null,
      ...(outcome.delivered ? { state: 'delivered', deliveredAt: new Date() } : {}),
    },
  });
}

/** The delivery gave up (its last attempt's error stays); a deleted webhook has nothing to mark. */
export async function markDeliveryFailed(
  db: Db,
  webhookId: string,
  eventSeq: number,
): Promise<void> {
  await db.webhookDelivery.updateMany({
    where: { webhookId, eventSeq: BigInt(eventSeq), state: 'pending' },
    data: { state: 'failed' },
  });
}
