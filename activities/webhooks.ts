import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { DeliveredEvent, EventType } from '../contracts/events';
import {
  UNKNOWN_WEBHOOK,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_SECRET_GONE,
  WEBHOOK_SIGNATURE_HEADER,
  webhookDeliveryWorkflowId,
} from '../contracts/webhook';
import type {
  RecordedWebhookChange,
  WebhookDeliveryInput,
  WebhookRecord,
} from '../contracts/webhook';
import type { Db } from '../db/client';
import { deliveredEvent, storedActor } from '../db/tasks';
import type { LoggedEvent } from '../db/tasks';
import {
  addDeliveries,
  changeWebhook,
  deliveryToSend,
  markDeliveryFailed,
  recordAttempt,
  UnknownWebhook,
  WebhookSecretGone,
} from '../db/webhooks';
import { auditChange, auditEntry } from './audit';
import { recordAudit } from '../db/audit';
import type { ActivityDeps } from './deps';

/** How long one attempt may take before it counts as failed. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * Starts the delivery of a project's new events to the webhooks that chose them: one workflow
 * per webhook and event (its id makes a second start a no-op), so a retried projection sends
 * nothing twice. Runs inside an activity, whose client and task queue it uses.
 */
export async function startWebhookDeliveries(
  deps: Pick<ActivityDeps, 'db' | 'webhooks'>,
  projectId: string,
  events: LoggedEvent[],
): Promise<void> {
  const pairs = await addDeliveries(deps.db, projectId, events);
  if (pairs.length === 0) return;
  const { client, info } = Context.current();
  const { retryFirstMs: firstMs, retryMaxMs: maxMs, giveUpMs } = deps.webhooks;
  for (const { webhookId, eventSeq } of pairs) {
    const input: WebhookDeliveryInput = {
      webhookId,
      eventSeq,
      retry: { firstMs, maxMs, giveUpMs },
    };
    try {
      await client.workflow.start('webhookDeliveryWorkflow', {
        workflowId: webhookDeliveryWorkflowId(webhookId, eventSeq),
        taskQueue: info.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

/** The signature header's value: HMAC-SHA256 of the raw body with the webhook's secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A deleted webhook, as its audit entry records it: what the deletion answered. */
function deletedDetail(webhook: WebhookRecord) {
  const { id, url, events, createdAt, deliveries } = webhook;
  return { webhookId: id, url, events, createdAt, deliveries };
}

/** The webhook a deletion's audit entry records (`deletedDetail`). */
function webhookDeletedIn(detail: unknown, projectId: string): WebhookRecord | undefined {
  const d = (typeof detail === 'string' ? JSON.parse(detail) : detail) as ReturnType<
    typeof deletedDetail
  > | null;
  if (!d?.webhookId || !d.createdAt) return undefined;
  return {
    id: d.webhookId,
    projectId,
    url: d.url,
    events: d.events,
    createdAt: d.createdAt,
    deliveries: d.deliveries,
  };
}

export function createWebhookActivities(deps: ActivityDeps) {
  const { db, logger } = deps;
  return {
    /**
     * Records a new or deleted webhook (idempotent; a refusal is not retried). A new one's secret
     * is taken from where the API left it; a change an earlier release recorded carries it.
     */
    async changeWebhookRecord(change: RecordedWebhookChange): Promise<WebhookRecord> {
      try {
        if (change.action === 'delete') {
          // Its audit entry is written with the deletion, and tells a retry (the worker died
          // after the deletion committed) which webhook it removed.
          const entry = (webhook?: WebhookRecord) =>
            auditEntry({
              action: 'webhook.deleted',
              actor: change.actor,
              projectId: change.projectId,
              ...(webhook ? { detail: deletedDetail(webhook) } : {}),
            });
          return await changeWebhook(db, change, {
            deleted: (sql, webhook) => recordAudit(sql, [entry(webhook)]),
            deletedBefore: async (sql) => {
              const [row] = await sql.rows<{ detail: unknown }>(
                'SELECT detail FROM audit_entries WHERE `key` = ?',
                [entry().key],
              );
              return row ? webhookDeletedIn(row.detail, change.projectId) : undefined;
            },
          });
        }
        // A creation that committed is found by its retry, which records it then (the entry's
        // key is the activity's: it is stored once).
        const webhook = await changeWebhook(db, change);
        await auditChange(db, {
          action: 'webhook.created',
          actor: change.actor,
          projectId: webhook.projectId,
          detail: { webhookId: webhook.id, url: webhook.url, events: webhook.events },
        });
        return webhook;
      } catch (err) {
        if (err instanceof UnknownWebhook)
          throw ApplicationFailure.nonRetryable(err.message, UNKNOWN_WEBHOOK);
        if (err instanceof WebhookSecretGone)
          throw ApplicationFailure.nonRetryable(err.message, WEBHOOK_SECRET_GONE);
        throw err;
      }
    },

    /**
     * One attempt to POST an event to a webhook. A receiver that does not answer 2xx fails the
     * attempt, which the workflow retries with backoff; a webhook deleted meanwhile ends it.
     */
    async deliverWebhook(input: {
      webhookId: string;
      eventSeq: number;
    }): Promise<'delivered' | 'dropped'> {
      const found = await deliveryToSend(db, input.webhookId, input.eventSeq);
      if (!found) return 'dropped';
      const { delivery, webhook, event } = found;
      if (delivery.state === 'delivered') return 'delivered';
      const logged: LoggedEvent = {
        seq: Number(event.seq),
        projectId: event.projectId,
        taskId: event.taskId,
        taskSeq: event.taskSeq ?? 0,
        type: event.type as EventType,
        payload: event.payload as unknown as LoggedEvent['payload'],
        at: event.createdAt.toISOString(),
        actor: storedActor(event),
      };
      const data = deliveredEvent(logged);
      const text = slackText(await describe(db, deps.publicUrl, logged.type, data));
      const body = JSON.stringify({ type: logged.type, ...data, text });
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(webhook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'aiworker-webhooks',
            [WEBHOOK_EVENT_HEADER]: logged.type,
            [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(webhook.secret, body),
            [WEBHOOK_DELIVERY_HEADER]: delivery.id,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        status = res.status;
        await res.body?.cancel();
        if (res.status < 200 || res.status > 299) error = `the receiver answered ${res.status}`;
      } catch (err) {
        error = reachError(err);
      }
      await recordAttempt(db, delivery.id, { delivered: error === null, status, error });
      if (error !== null) {
        logger.debug(
          { webhookId: webhook.id, eventSeq: input.eventSeq, error },
          'webhook attempt failed',
        );
        throw ApplicationFailure.retryable(error, 'WebhookUnreachable');
      }
      return 'delivered';
    },

    /** The delivery ran out of time: it is marked failed, for administrators to see. */
    async giveUpWebhookDelivery(input: {
      webhookId: string;
      eventSeq: number;
      reason: string;
    }): Promise<void> {
      await markDeliveryFailed(db, input.webhookId, input.eventSeq);
      logger.warn(
        { webhookId: input.webhookId, eventSeq: input.eventSeq, reason: input.reason },
        'webhook delivery gave up',
      );
    },
  };
}

/**
 * Escapes what Slack-compatible receivers read as markup (`<!channel>`, `<url|label>`): an agent's
 * question or a task's title must not ping a whole channel or dress up a link.
 */
export function slackText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Why a receiver could not be reached, in plain words (no library text). */
function reachError(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code) return `could not connect (${code})`;
  return 'could not connect';
}

/** The Slack-compatible `text` of a delivery: one line a person can read. */
async function describe(
  db: Db,
  publicUrl: string,
  type: EventType,
  e: DeliveredEvent,
): Promise<string> {
  const d = e as unknown as Record<string, string | number | string[] | null | undefined>;
  const taskId = typeof d.taskId === 'string' ? d.taskId : null;
  const task = taskId
    ? await db.task.findUnique({ where: { id: taskId }, select: { title: true } })
    : null;
  const link = taskId ? ` ${publicUrl}/projects/${e.projectId}/tasks/${taskId}` : '';
  const title = task ? `"${task.title}"` : 'a task';
  const who = e.actor.name;
  switch (type) {
    case 'task:needs_input':
      return `${who} asked on ${title}: ${String(d.question)}${link}`;
    case 'task:input_reminder':
      return `A question on ${title} is still waiting for an answer${link}`;
    case 'task:question_answered':
      return `${who} answered the question on ${title}${link}`;
    case 'task:ready_to_test':
      return `${title} is ready to test${typeof d.previewUrl === 'string' ? ` at ${d.previewUrl}` : ''}${link}`;
    case 'task:changes_requested':
      return `Changes requested on ${title}: ${String(d.feedback)}${link}`;
    case 'task:merge_conflict':
      return `${title} conflicts with staging in ${(d.files as string[]).join(', ') || 'some files'}${link}`;
    case 'task:created':
      return `${who} created ${title}${link}`;
    case 'task:status_changed':
      return `${title}: ${String(d.oldState)} → ${String(d.newState)} (${who})${link}`;
    case 'task:pr_opened':
      return `${who} opened pull request #${String(d.prNumber)} for ${title}: ${String(d.prUrl)}`;
    case 'task:delivery_failed':
      return `${String(d.step)} failed on ${title}: ${String(d.message)}${link}`;
    case 'deploy:started':
      return `Deploying staging (merge ${String(d.mergeId)}, started by ${who})`;
    case 'deploy:completed':
      return `Staging is deployed${typeof d.url === 'string' ? ` at ${d.url}` : ''} (merge ${String(d.mergeId)}, started by ${who})`;
    case 'deploy:failed':
      return `Deploying staging failed: ${String(d.reason)} (merge ${String(d.mergeId)})`;
    default:
      return type;
  }
}
