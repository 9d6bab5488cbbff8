import { createAgentActivities } from './agents';
import { createCleanupActivities } from './cleanup';
import { createDeliveryActivities } from './delivery';
import type { ActivityDeps } from './deps';
import { createMergeActivities } from './merges';
import { countingFailures } from './metrics';
import { createProbeActivities } from './probe';
import { createProjectActivities } from './projects';
import { createProjectionActivities } from './projection';
import { createUserActivities } from './users';
import { createWebhookActivities } from './webhooks';

/**
 * Builds every activity with its dependencies (STYLE: activities come from a factory), each
 * counting its failed attempts (`activities/metrics.ts`).
 */
export function createActivities(deps: ActivityDeps) {
  return countingFailures({
    ...createProbeActivities(deps),
    ...createProjectionActivities(deps),
    ...createProjectActivities(deps),
    ...createAgentActivities(deps),
    ...createUserActivities(deps),
    ...createDeliveryActivities(deps),
    ...createCleanupActivities(deps),
    ...createMergeActivities(deps),
    ...createWebhookActivities(deps),
  });
}

/** The activity interface that workflows proxy (imported as a type only). */
export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './deps';
