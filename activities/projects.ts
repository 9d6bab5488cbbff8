import { ApplicationFailure } from '@temporalio/activity';
import { insertProject, ProjectNameTaken } from '../db/projects';
import { PROJECT_NAME_TAKEN } from '../contracts/project';
import type { NewProject, ProjectRecord } from '../contracts/project';
import type { ActivityDeps } from './deps';

export function createProjectActivities({ db }: ActivityDeps) {
  return {
    /** Records a new project; a retry after success returns the same project. */
    async createProjectRecord(project: NewProject): Promise<ProjectRecord> {
      try {
        return await insertProject(db, project);
      } catch (err) {
        if (err instanceof ProjectNameTaken)
          throw ApplicationFailure.nonRetryable(err.message, PROJECT_NAME_TAKEN);
        throw err;
      }
    },
  };
}
