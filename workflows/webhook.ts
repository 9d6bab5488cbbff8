import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type {
  RecordedWebhookChange,
  WebhookDeliveryInput,
  WebhookRecord,
} from '../contracts/webhook';

const { changeWebhookRecord, giveUpWebhookDelivery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 20 },
});

/**
 * Adds or deletes a project's webhook durably; the API writes no webhook itself. The input only
 * names a new webhook's secret (`secretRef`), so no history holds it; histories of releases up to
 * 0.7.2 carry it inline, and this forwards either shape unchanged, so they replay as they were.
 */
export async function changeWebhookWorkflow(change: RecordedWebhookChange): Promise<WebhookRecord> {
  return await changeWebhookRecord(change);
}

/**
 * Delivers one event to one webhook: attempts retry with backoff (a receiver down for hours
 * still gets the event once it is back) until one lands or `giveUpMs` has passed, when the
 * delivery is marked failed for administrators to see.
 */
export async function webhookDeliveryWorkflow(
  input: WebhookDeliveryInput,
): Promise<'delivered' | 'dropped' | 'failed'> {
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: input.retry.giveUpMs,
    retry: {
      initialInterval: input.retry.firstMs,
      maximumInterval: input.retry.maxMs,
      backoffCoefficient: 2,
    },
  });
  try {
    return await deliverWebhook({ webhookId: input.webhookId, eventSeq: input.eventSeq });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const reason = `gave up: ${cause instanceof Error ? cause.message : String(cause)}`;
    await giveUpWebhookDelivery({ webhookId: input.webhookId, eventSeq: input.eventSeq, reason });
    return 'failed';
  }
}
