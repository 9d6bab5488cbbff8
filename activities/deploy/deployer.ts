/**
 * The staging deployment behind a project (merging to staging: docs/architecture.md, "Agents, delivery and merges"): once work is merged into `staging`,
 * the deployer makes the staging environment run that commit. One interface, two kinds: `argocd`
 * (syncs an Argo CD application through its REST API) and `local` (a preview of the `staging`
 * branch on this machine, used when no Argo CD is configured). Activities are the only callers.
 */

/** What a deploy resolves with once the environment is healthy. */
export interface DeployResult {
  /** The environment's name as events show it (`deploy:completed {environment}`). */
  environment: string;
  /** Where a person opens it, when the deployer knows. */
  url: string | null;
}

/** Deploys the `staging` branch of a project. */
export interface StagingDeployer {
  readonly kind: 'argocd' | 'local';
  /**
   * Deploys `commit` of the project's staging branch; resolves once it is healthy, throws
   * DeployFailed if it is not by the deadline. `progress` is called with what the deployer
   * observes while it waits (activities heartbeat with it).
   */
  deploy(input: {
    projectId: string;
    commit: string;
    progress?: (detail: string) => void;
  }): Promise<DeployResult>;
}

/**
 * Thrown by a deployer when the deployment ran and did not become healthy: a resource stayed
 * degraded, the sync operation failed, or the deadline passed. Deploying the same commit again
 * will not help, so it is not retried. The message says why in the deployment system's words.
 */
export class DeployFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployFailed';
  }
}

/**
 * Thrown by a deployer when the deployment system refuses the request for a reason only a
 * configuration change fixes (bad credentials, no access, unknown application, a sync policy
 * that forbids the request). The message says what to fix. Network errors and server errors are
 * plain `Error`s instead: those are worth retrying.
 */
export class DeployRefused extends Error {
  constructor(
    message: string,
    /** The HTTP status the deployment system answered with, when there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeployRefused';
  }
}
