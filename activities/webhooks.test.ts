import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ADMIN_ACTOR } from '../contracts/actor';
import { UNKNOWN_WEBHOOK } from '../contracts/webhook';
import type { RecordedWebhookChange } from '../contracts/webhook';
import { closeDb } from '../db/client';
import { openTestDb } from '../test/support/db';
import type { Db } from '../db/client';
import { createLogger } from '../platform/logger';
import type { ActivityDeps } from './deps';
import { createWebhookActivities } from './webhooks';

/**
 * A webhook's deletion and its audit entry commit together. Its activity may run again after
 * that commit (the worker died before reporting it): the retry must answer what the deletion
 * removed, not "no such webhook", and record nothing more.
 */
describe('deleting a webhook, retried after it committed', () => {
  let db: Db;
  let projectId: string;

  beforeAll(async () => {
    db = openTestDb(4);
    projectId = randomUUID();
    await db.project.create({ data: { id: projectId, name: `hook-delete-${projectId}` } });
  });
  afterAll(async () => {
    await closeDb(db);
  });

  const activities = () =>
    createWebhookActivities({ db, logger: createLogger({ logLevel: 'silent' }) } as ActivityDeps);
  const auditOf = (webhookId: string) =>
    db.auditEntry
      .findMany({ where: { projectId, action: 'webhook.deleted' } })
      .then((rows) =>
        rows.filter((r) => (r.detail as { webhookId?: string } | null)?.webhookId === webhookId),
      );

  it('answers the deleted webhook again and keeps one audit entry', async () => {
    const webhookId = randomUUID();
    await db.webhook.create({
      data: {
        id: webhookId,
        projectId,
        url: `https://hooks.example.com/${webhookId}`,
        secret: 'not-shown',
        events: ['task:created'],
      },
    });
    const deletion: RecordedWebhookChange = {
      action: 'delete',
      webhookId,
      projectId,
      actor: ADMIN_ACTOR,
    };
    // The same workflow and activity: a retry of the same attempt.
    const run = { workflowId: `webhook-change-${webhookId}`, runId: randomUUID() };
    const attempt = (n: number) =>
      new MockActivityEnvironment({
        activityId: '1',
        attempt: n,
        workflowExecution: run,
      }).run(activities().changeWebhookRecord, deletion);

    const first = await attempt(1);
    expect(first).toMatchObject({ id: webhookId, projectId, events: ['task:created'] });
    expect(await db.webhook.findUnique({ where: { id: webhookId } })).toBeNull();
    expect(await attempt(2)).toEqual(first);
    expect(await auditOf(webhookId)).toHaveLength(1);

    // Another deletion of the same webhook (a new request) is refused: the webhook is gone.
    const other = new MockActivityEnvironment({
      activityId: '1',
      workflowExecution: { workflowId: `webhook-change-${randomUUID()}`, runId: randomUUID() },
    }).run(activities().changeWebhookRecord, deletion);
    await expect(other).rejects.toMatchObject({ type: UNKNOWN_WEBHOOK, nonRetryable: true });
    expect(await auditOf(webhookId)).toHaveLength(1);
  });
});
