import { ApplicationFailure } from '@temporalio/activity';
import { insertProject, ProjectNameTaken, requireProjectNameFree } from '../db/projects';
import { PROJECT_NAME_TAKEN } from '../contracts/project';
import type { NewProject, ProjectRecord } from '../contracts/project';
import type { ActivityDeps } from './deps';

export function createProjectActivities({ db }: ActivityDeps) {
  const refuseTaken = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ProjectNameTaken)
        throw ApplicationFailure.nonRetryable(err.message, PROJECT_NAME_TAKEN);
      throw err;
    }
  };
  return {
    /** Refuses a name another project has, before anything is created for this one. */
    async checkProjectName(project: NewProject): Promise<void> {
      await refuseTaken(() => requireProjectNameFree(db, project));
    },

    /** Records a new project; a retry after success returns the same project. */
    async createProjectRecord(project: NewProject): Promise<ProjectRecord> {
      return await refuseTaken(() => insertProject(db, project));
    },
  };
}
