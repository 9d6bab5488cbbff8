import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { UNKNOWN_ACTOR } from '../contracts/actor';
import type { Actor } from '../contracts/actor';
import { recordAudit } from '../db/audit';
import type { NewAuditEntry } from '../db/audit';
import type { Db } from '../db/client';
import { prismaRunner } from '../db/sql';

/** What a person did, as the audit entry this activity records (see `auditChange`). */
export function auditEntry(entry: {
  action: string;
  actor: Actor | undefined;
  projectId?: string;
  detail?: Record<string, unknown>;
}): NewAuditEntry {
  const { workflowExecution: run, activityId } = Context.current().info;
  return {
    key: `${run?.workflowId ?? randomUUID()}:${run?.runId ?? ''}:${activityId}`,
    action: entry.action,
    actor: entry.actor ?? UNKNOWN_ACTOR,
    projectId: entry.projectId ?? null,
    ...(entry.detail ? { detail: entry.detail } : {}),
  };
}

/**
 * Records what a person did, once: the key is the calling workflow and activity, which a retry
 * shares. Changes recorded by workflows started before release 0.5.0 name no actor.
 */
export async function auditChange(db: Db, entry: Parameters<typeof auditEntry>[0]): Promise<void> {
  await recordAudit(prismaRunner(db), [auditEntry(entry)]);
}
