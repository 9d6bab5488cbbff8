import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import {
  createWebhookBody,
  UNKNOWN_WEBHOOK,
  webhookChangeWorkflowId,
} from '../../contracts/webhook';
import type { WebhookChange, WebhookRecord } from '../../contracts/webhook';
import { findWebhook, listDeliveries, listWebhooks, stashWebhookSecret } from '../../db/webhooks';
import type { ApiDeps } from '../deps';
import { NotFoundError } from '../errors';
import { actorOf, requireAdministrator } from '../middleware/auth';
import { requireProject } from '../projects/projects';
import { idParams } from '../tasks/schema';
import { recordThroughWorkflow } from '../temporal-errors';
import { validate } from '../validate';

const webhookParams = z
  .object({
    id: z.string().uuid('expected a UUID'),
    webhookId: z.string().uuid('expected a UUID'),
  })
  .strict();

const deliveriesQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(200, 'at most 200').default(50) })
  .strict();

/**
 * `/api/projects/:id/webhooks`: administrators choose where a project's events are POSTed
 * (README, "Webhooks") and see how the deliveries stand. A secret is never shown back.
 */
export function webhookRoutes(deps: ApiDeps): Router {
  const router = Router();
  const change = (c: WebhookChange): Promise<WebhookRecord> =>
    recordThroughWorkflow(
      deps,
      'changeWebhookWorkflow',
      webhookChangeWorkflowId(c.webhookId, randomUUID()),
      c,
      { notFound: [UNKNOWN_WEBHOOK], conflict: [] },
    );
  const requireWebhook = async (projectId: string, webhookId: string) => {
    const webhook = await findWebhook(deps.db, projectId, webhookId);
    if (!webhook) throw new NotFoundError(`project ${projectId} has no webhook ${webhookId}`);
    return webhook;
  };

  router.post('/projects/:id/webhooks', requireAdministrator, async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const { secret, url, events } = validate(createWebhookBody, req.body, 'body');
    await requireProject(deps, id);
    // The secret goes to the database, and the workflow only its reference: a workflow's input
    // stays in its history, which anyone with Temporal's UI or CLI can read.
    const webhookId = randomUUID();
    const secretRef = await stashWebhookSecret(deps.db, webhookId, secret);
    const webhook = await change({
      action: 'create',
      webhookId,
      projectId: id,
      url,
      events,
      secretRef,
      actor: actorOf(req.principal!),
    });
    res.status(201).json(webhook);
  });

  router.get('/projects/:id/webhooks', requireAdministrator, async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    await requireProject(deps, id);
    res.json({ webhooks: await listWebhooks(deps.db, id) });
  });

  router.get('/projects/:id/webhooks/:webhookId', requireAdministrator, async (req, res) => {
    const { id, webhookId } = validate(webhookParams, req.params, 'params');
    const { limit } = validate(deliveriesQuery, req.query, 'query');
    // The list first, then the webhook with its counts: a delivery moves only forward (pending,
    // then delivered or failed), so the counts are never behind the list they come with.
    const recentDeliveries = await listDeliveries(deps.db, webhookId, limit);
    const webhook = await requireWebhook(id, webhookId);
    res.json({ ...webhook, recentDeliveries });
  });

  router.delete('/projects/:id/webhooks/:webhookId', requireAdministrator, async (req, res) => {
    const { id, webhookId } = validate(webhookParams, req.params, 'params');
    await requireWebhook(id, webhookId);
    res.json(
      await change({ action: 'delete', webhookId, projectId: id, actor: actorOf(req.principal!) }),
    );
  });
  return router;
}
