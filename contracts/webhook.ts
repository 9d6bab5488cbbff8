import { z } from 'zod';
import type { ByActor } from './actor';
import type { EventType } from './events';

/** The events a project webhook may receive (README, "Webhooks"). */
export const WEBHOOK_EVENTS = [
  'task:created',
  'task:needs_input',
  'task:input_reminder',
  'task:question_answered',
  'task:ready_to_test',
  'task:changes_requested',
  'task:status_changed',
  'task:pr_opened',
  'task:delivery_failed',
  'task:merge_conflict',
  'deploy:started',
  'deploy:completed',
  'deploy:failed',
] as const satisfies readonly EventType[];
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Body of `POST /api/projects/:id/webhooks`. */
export const createWebhookBody = z
  .object({
    url: z
      .string()
      .max(2048, 'at most 2048 characters')
      .url('expected an http or https URL')
      .refine(
        (u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol),
        'expected an http or https URL',
      ),
    secret: z.string().min(16, 'at least 16 characters').max(255, 'at most 255 characters'),
    events: z
      .array(z.enum(WEBHOOK_EVENTS, { error: `expected one of ${WEBHOOK_EVENTS.join(', ')}` }))
      .min(1, 'name at least one event')
      .transform((e) => [...new Set(e)].sort()),
  })
  .strict();

export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** A webhook as administrators see it: never its secret. */
export interface WebhookRecord {
  id: string;
  projectId: string;
  url: string;
  events: WebhookEvent[];
  createdAt: string;
  /** How many deliveries are in each state. */
  deliveries: Record<WebhookDeliveryState, number>;
}

/** One event's delivery to one webhook. */
export interface WebhookDeliveryRecord {
  id: string;
  eventSeq: number;
  eventType: string;
  state: WebhookDeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
}

/**
 * A change to a project's webhooks, recorded by `changeWebhookWorkflow`. A creation names its
 * secret only by `secretRef`: the API stores the secret in the database under that reference
 * (`webhook_pending_secrets`) and the activity moves it into the webhook's row, so the secret
 * never enters a workflow's history.
 */
export type WebhookChange = (
  | {
      action: 'create';
      webhookId: string;
      projectId: string;
      url: string;
      /** The id of the secret's `webhook_pending_secrets` row. */
      secretRef: string;
      events: WebhookEvent[];
    }
  | { action: 'delete'; webhookId: string; projectId: string }
) &
  ByActor;

/**
 * A creation as releases up to 0.7.2 recorded it, the secret inline. Their histories still hold
 * it; a workflow one of them started may run its activity on a later release.
 */
export type InlineSecretWebhookCreate = Omit<
  Extract<WebhookChange, { action: 'create' }>,
  'secretRef'
> & { secret: string };

/** What a `changeWebhookWorkflow` may have been started with, by this release or an earlier one. */
export type RecordedWebhookChange = WebhookChange | InlineSecretWebhookCreate;

/** Failure type when a webhook change names a webhook the project does not have. */
export const UNKNOWN_WEBHOOK = 'UnknownWebhook';

/**
 * Failure type when a creation's secret is no longer waiting under its `secretRef`: the workflow
 * ran after the pending secret expired, so the webhook was not created.
 */
export const WEBHOOK_SECRET_GONE = 'WebhookSecretGone';

/** The workflow id of one change to a webhook. */
export function webhookChangeWorkflowId(webhookId: string, requestId: string): string {
  return `webhook-${webhookId}-${requestId}`;
}

/** What starts the delivery of one event to one webhook. */
export interface WebhookDeliveryInput {
  webhookId: string;
  eventSeq: number;
  retry: { firstMs: number; maxMs: number; giveUpMs: number };
}

/** The workflow id of one event's delivery to one webhook: one delivery per pair, ever. */
export function webhookDeliveryWorkflowId(webhookId: string, eventSeq: number): string {
  return `webhook-delivery-${webhookId}-${eventSeq}`;
}

/** Headers of every delivery. */
export const WEBHOOK_EVENT_HEADER = 'X-Aiworker-Event';
export const WEBHOOK_SIGNATURE_HEADER = 'X-Aiworker-Signature';
export const WEBHOOK_DELIVERY_HEADER = 'X-Aiworker-Delivery';
