import { randomUUID } from 'node:crypto';
import { ADMIN_ACTOR } from '../contracts/actor';
import type { RecordedWebhookChange } from '../contracts/webhook';
import { closeDb } from './client';
import { openTestDb } from '../test/support/db';
import type { Db } from './client';
import {
  changeWebhook,
  forgetExpiredWebhookSecrets,
  PENDING_SECRET_TTL_MS,
  stashWebhookSecret,
  WebhookSecretGone,
} from './webhooks';

/**
 * A new webhook's secret travels from the API to the activity through the database, never through
 * Temporal: the activity moves it into the webhook once, however often it is retried.
 */
describe('a new webhook secret on its way to its webhook', () => {
  let db: Db;
  let projectId: string;

  beforeAll(async () => {
    db = openTestDb(4);
    projectId = randomUUID();
    await db.project.create({ data: { id: projectId, name: `hook-secrets-${projectId}` } });
  });
  afterAll(async () => {
    await closeDb(db);
  });

  const creation = (webhookId: string, secretRef: string): RecordedWebhookChange => ({
    action: 'create',
    webhookId,
    projectId,
    url: `https://hooks.example.com/${webhookId}`,
    secretRef,
    events: ['task:created'],
    actor: ADMIN_ACTOR,
  });
  const storedSecret = async (webhookId: string) =>
    (await db.webhook.findUnique({ where: { id: webhookId } }))?.secret;
  const pending = (ref: string) => db.webhookPendingSecret.findUnique({ where: { id: ref } });

  it('moves the secret into the webhook once; a retry answers the same webhook', async () => {
    const webhookId = randomUUID();
    const secret = `secret-${randomUUID()}`;
    const ref = await stashWebhookSecret(db, webhookId, secret);
    expect((await pending(ref))?.secret).toBe(secret);

    const first = await changeWebhook(db, creation(webhookId, ref));
    expect(first).toMatchObject({ id: webhookId, projectId, events: ['task:created'] });
    expect(JSON.stringify(first)).not.toContain(secret);
    expect(await storedSecret(webhookId)).toBe(secret);
    expect(await pending(ref)).toBeNull();

    expect(await changeWebhook(db, creation(webhookId, ref))).toEqual(first);
    expect(await storedSecret(webhookId)).toBe(secret);
  });

  it('stores it once when two attempts run at the same time, and the retry of a failed one finds it', async () => {
    const webhookId = randomUUID();
    const secret = `secret-${randomUUID()}`;
    const ref = await stashWebhookSecret(db, webhookId, secret);
    const attempts = await Promise.allSettled([
      changeWebhook(db, creation(webhookId, ref)),
      changeWebhook(db, creation(webhookId, ref)),
    ]);
    expect(attempts.some((a) => a.status === 'fulfilled')).toBe(true);
    expect((await changeWebhook(db, creation(webhookId, ref))).id).toBe(webhookId);
    expect(await storedSecret(webhookId)).toBe(secret);
    expect(await pending(ref)).toBeNull();
  });

  it('refuses a reference that names no waiting secret, or the secret of another webhook', async () => {
    const webhookId = randomUUID();
    await expect(changeWebhook(db, creation(webhookId, randomUUID()))).rejects.toBeInstanceOf(
      WebhookSecretGone,
    );
    const othersRef = await stashWebhookSecret(db, randomUUID(), `secret-${randomUUID()}`);
    await expect(changeWebhook(db, creation(webhookId, othersRef))).rejects.toBeInstanceOf(
      WebhookSecretGone,
    );
    expect(await pending(othersRef)).not.toBeNull();
    expect(await db.webhook.findUnique({ where: { id: webhookId } })).toBeNull();
  });

  it('deletes a secret whose workflow never came for it once it has expired', async () => {
    const webhookId = randomUUID();
    const longAgo = new Date(Date.now() - PENDING_SECRET_TTL_MS - 60_000);
    const stale = await stashWebhookSecret(db, webhookId, `secret-${randomUUID()}`, longAgo);
    const recent = await stashWebhookSecret(
      db,
      randomUUID(),
      `secret-${randomUUID()}`,
      new Date(Date.now() - PENDING_SECRET_TTL_MS + 60_000),
    );
    // The next creation clears what expired, and only that.
    await stashWebhookSecret(db, randomUUID(), `secret-${randomUUID()}`);
    expect(await pending(stale)).toBeNull();
    expect(await pending(recent)).not.toBeNull();
    await expect(changeWebhook(db, creation(webhookId, stale))).rejects.toBeInstanceOf(
      WebhookSecretGone,
    );
    // The worker's periodic sweep does the same without a creation.
    const another = await stashWebhookSecret(db, randomUUID(), `secret-${randomUUID()}`, longAgo);
    expect(await forgetExpiredWebhookSecrets(db)).toBeGreaterThanOrEqual(1);
    expect(await pending(another)).toBeNull();
    expect(await pending(recent)).not.toBeNull();
  });

  it('still stores a secret that a creation recorded by release 0.7.2 carries inline', async () => {
    const webhookId = randomUUID();
    const secret = `secret-${randomUUID()}`;
    const recorded: RecordedWebhookChange = {
      action: 'create',
      webhookId,
      projectId,
      url: `https://hooks.example.com/${webhookId}`,
      secret,
      events: ['task:created'],
      actor: ADMIN_ACTOR,
    };
    expect((await changeWebhook(db, recorded)).id).toBe(webhookId);
    expect((await changeWebhook(db, recorded)).id).toBe(webhookId);
    expect(await storedSecret(webhookId)).toBe(secret);
  });
});
