import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewProject, ProjectRecord } from '../contracts/project';

const { checkProjectName, createProjectRecord, ensureProjectRepository } =
  proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: '200 milliseconds',
      maximumInterval: '5 seconds',
      maximumAttempts: 20,
    },
  });

/**
 * Creates a project durably: checks its name is free, creates its repository on its forge
 * (local: a bare repository with a `staging` branch), then its record, so a project in the read
 * model always has a repository and a taken name leaves no repository behind. (Two creations of
 * one name at the same moment can both pass the check; the record's unique name refuses the
 * second, whose repository then stays unused.)
 */
export async function createProjectWorkflow(project: NewProject): Promise<ProjectRecord> {
  await checkProjectName(project);
  const { cloneUrl } = await ensureProjectRepository({
    id: project.id,
    repository: {
      provider: project.repository.provider,
      owner: project.repository.owner ?? null,
      name: project.repository.name ?? null,
    },
  });
  return await createProjectRecord({ ...project, cloneUrl });
}
