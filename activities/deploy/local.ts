import { findProject } from '../../db/projects';
import type { Db } from '../../db/client';
import type { Forge } from '../forge/forge';
import { repoOf, STAGING_BRANCH } from '../forge/forge';
import { PreviewFailed, stagingPreviewName } from '../preview/runtime';
import type { PreviewRuntime } from '../preview/runtime';
import { DeployFailed, DeployRefused } from './deployer';
import type { StagingDeployer } from './deployer';

/**
 * Staging without Argo CD: the `staging` branch runs on the preview runtime as the project's
 * staging environment (`staging-<projectId>`), with the project's preview settings.
 */
export function createLocalStagingDeployer(deps: {
  db: Db;
  forgeFor(provider: 'local' | 'gitea'): Forge;
  previews: PreviewRuntime;
}): StagingDeployer {
  return {
    kind: 'local',
    async deploy({ projectId, commit, progress }) {
      const project = await findProject(deps.db, projectId);
      if (!project) throw new DeployRefused(`there is no project ${projectId}`);
      const repo = repoOf(project);
      const forge = deps.forgeFor(repo.provider);
      const cloneUrl = await forge.cloneUrl(repo);
      try {
        const info = await deps.previews.deploy(
          {
            name: stagingPreviewName(projectId),
            projectId,
            taskId: null,
            branch: STAGING_BRANCH,
            commit,
            cloneUrl,
            gitEnv: forge.gitEnv(cloneUrl),
            config: project.preview ?? {},
          },
          progress,
        );
        return { environment: 'staging', url: info.url };
      } catch (err) {
        if (err instanceof PreviewFailed) throw new DeployFailed(err.message);
        throw err;
      }
    },
  };
}
