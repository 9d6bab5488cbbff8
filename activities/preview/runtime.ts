/**
 * Where previews run: one interface, two runtimes chosen by config. `local` (the default) runs
 * the branch as a process on this machine; `kubernetes` deploys it into a namespace of its own.
 * The staging environment, when no Argo CD is configured, is a preview of the `staging` branch.
 */

/** What a project says about running its previews (README, "HTTP API", `POST /api/projects`). */
export interface PreviewConfig {
  /** Local runtime: run once in the checkout before starting (e.g. `npm ci`). */
  installCommand?: string;
  /** Local runtime: starts the app; it must listen on `$PORT`. */
  startCommand?: string;
  /** Path that answers 2xx/3xx once the app is up (default `/`). */
  healthPath?: string;
  /** Kubernetes runtime: the image to run; the branch's tag is appended (`image:task-42-feature`). */
  image?: string;
  /** Kubernetes runtime: the port the container listens on. */
  port?: number;
  /**
   * The only variables the install and the app get, besides `PORT` and a minimal PATH, HOME,
   * TMPDIR and LANG (both runtimes).
   */
  env?: Record<string, string>;
  /**
   * Local runtime: run the install with the host's network instead of none. Unsafe by design:
   * install scripts then reach every service of the machine (Temporal, MariaDB, Redis).
   */
  installNetwork?: boolean;
  /** Local runtime: what the sandbox allows (defaults in sandbox-config.ts). */
  limits?: {
    memoryMb?: number;
    cpuSeconds?: number;
    processes?: number;
    fileSizeMb?: number;
    tmpMb?: number;
    diskMb?: number;
  };
  /** Kubernetes runtime: the non-root user the container runs as (default 10001). */
  runAsUser?: number;
  /** Kubernetes runtime: whether the container's root filesystem is read-only (default true; /tmp is writable). */
  readOnlyRootFilesystem?: boolean;
  /** Kubernetes runtime: the container's requests and limits (defaults in kubernetes-manifests.ts). */
  resources?: {
    cpuRequest?: string;
    cpuLimit?: string;
    memoryRequest?: string;
    memoryLimit?: string;
  };
}

export interface PreviewSpec {
  /**
   * Names the preview: `task-<taskId>` for a task, `staging-<projectId>` for a project's staging
   * environment. Kubernetes namespaces are `preview-<name>`.
   */
  name: string;
  projectId: string;
  taskId: string | null;
  branch: string;
  /** The commit to run (the branch's head when the preview was asked for). */
  commit: string;
  /** Where the runtime fetches the code from (local runtime); no credentials in it. */
  cloneUrl: string;
  /** Environment git needs to read `cloneUrl` (the forge's credentials as a header). */
  gitEnv: Record<string, string>;
  config: PreviewConfig;
}

/** A preview that exists, as its runtime sees it. */
export interface PreviewInfo {
  name: string;
  projectId: string;
  taskId: string | null;
  url: string;
  commit: string;
  createdAt: string;
}

export interface PreviewRuntime {
  readonly kind: 'local' | 'kubernetes';
  /**
   * Runs `spec` and resolves with its URL once it answers. Idempotent: a preview that already
   * runs this commit is reused; one running another commit is updated in place. `progress` is
   * called while waiting (activities heartbeat with it).
   */
  deploy(spec: PreviewSpec, progress?: (detail: string) => void): Promise<PreviewInfo>;
  /** Stops and removes the preview; resolves `false` when there was none. */
  teardown(name: string): Promise<boolean>;
  list(): Promise<PreviewInfo[]>;
}

/**
 * Thrown when a preview cannot come up for a reason retrying will not fix (the app exits, the
 * image cannot be pulled, no start command). The message names the problem for the board.
 */
export class PreviewFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreviewFailed';
  }
}

/** The preview name of a task. */
export function taskPreviewName(taskId: string): string {
  return `task-${taskId}`;
}

/** The preview name of a project's staging environment (local runtime). */
export function stagingPreviewName(projectId: string): string {
  return `staging-${projectId}`;
}
