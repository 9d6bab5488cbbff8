import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepPreviews } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
});

/**
 * One sweep of the previews (run by the `preview-cleanup` Schedule): removes the previews of
 * cancelled and merged tasks, and those past their time to live whose task no longer needs them.
 */
export async function previewCleanupWorkflow(): Promise<Array<{ name: string; reason: string }>> {
  return await sweepPreviews();
}
