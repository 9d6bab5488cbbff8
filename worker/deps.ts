import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Emitter } from '@socket.io/redis-emitter';
import type { ActivityDeps } from '../activities';
import { createArgoCdDeployer } from '../activities/deploy/argocd';
import { createLocalStagingDeployer } from '../activities/deploy/local';
import { ForgeRefusal } from '../activities/forge/forge';
import type { Forge } from '../activities/forge/forge';
import { createGiteaForge } from '../activities/forge/gitea';
import { createLocalForge } from '../activities/forge/local';
import { createKubernetesRuntime } from '../activities/preview/kubernetes';
import { createLocalRuntime } from '../activities/preview/local';
import type { PreviewRuntime } from '../activities/preview/runtime';
import { closeDb, createDb } from '../db/client';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import { createRedis } from '../platform/redis';

/** The connections and adapters a worker's activities use, created once; `close` ends them. */
export function createWorkerDeps(
  config: Pick<
    Config,
    | 'databaseUrl'
    | 'redisUrl'
    | 'dataDir'
    | 'publicUrl'
    | 'previews'
    | 'gitea'
    | 'argocd'
    | 'webhooks'
  >,
  root: Logger,
): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl, root.child({ scope: 'worker.redis' }));
  const forges: Record<'local' | 'gitea', Forge | null> = {
    local: createLocalForge({
      reposDir: path.join(config.dataDir, 'repos'),
      db,
      pullRequestUrl: (projectId, number) =>
        `${config.publicUrl}/api/projects/${projectId}/pulls/${number}`,
    }),
    gitea: config.gitea
      ? createGiteaForge({
          baseUrl: config.gitea.url,
          token: config.gitea.token,
          username: config.gitea.username,
        })
      : null,
  };
  const forgeFor = (provider: 'local' | 'gitea'): Forge => {
    const forge = forges[provider];
    if (!forge) {
      throw new ForgeRefusal(
        'this project uses Gitea, but the worker has no GITEA_URL, GITEA_TOKEN and GITEA_USERNAME',
      );
    }
    return forge;
  };
  const previews = createPreviewRuntime(config);
  const argocd = config.argocd;
  return {
    db,
    redis,
    emitter: new Emitter(redis),
    logger: root.child({ scope: 'activities' }),
    forgeFor,
    previews,
    staging: argocd
      ? createArgoCdDeployer({
          baseUrl: argocd.url,
          token: argocd.token,
          application: (projectId) => argocd.application.replaceAll('{projectId}', projectId),
          url: argocd.stagingUrl,
        })
      : createLocalStagingDeployer({ db, forgeFor, previews }),
    previewTtlMs: config.previews.ttlMs,
    publicUrl: config.publicUrl,
    webhooks: config.webhooks,
    async close() {
      await closeDb(db);
      redis.disconnect();
    },
  };
}

function createPreviewRuntime(config: Pick<Config, 'dataDir' | 'previews'>): PreviewRuntime {
  if (config.previews.runtime === 'kubernetes') {
    // In a pod: the service account's credentials; elsewhere: $KUBECONFIG or ~/.kube/config.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    return createKubernetesRuntime({
      kubeConfig,
      previewDomain: config.previews.domain,
      ingressClassName: config.previews.ingressClass,
      ingressNamespaceSelector: config.previews.ingressNamespaceSelector,
    });
  }
  return createLocalRuntime({
    previewsDir: path.join(config.dataDir, 'previews'),
    sandbox: config.previews.sandbox,
    host: config.previews.localHost,
  });
}
