import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewProject, ProjectRecord } from '../contracts/project';

const { createProjectRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 20 },
});

/** Creates a project durably: its record now, its repository and other resources as they are added. */
export async function createProjectWorkflow(project: NewProject): Promise<ProjectRecord> {
  return await createProjectRecord(project);
}
