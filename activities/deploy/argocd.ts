/**
 * The `argocd` staging deployer: syncs a project's Argo CD application to the merged commit
 * through Argo CD's REST API (`POST /api/v1/applications/{name}/sync`) and polls
 * `GET /api/v1/applications/{name}` until the application is Synced at that commit and Healthy.
 *
 * Transient trouble (connection errors, timeouts, 5xx, 409, 429) is retried inside the poll loop
 * until the deadline: the sync may well have been accepted, so starting over would only queue
 * behind our own operation. If Argo CD still cannot be reached at the deadline, a plain `Error`
 * is thrown, so the caller retries the whole deploy later.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeployFailed, DeployRefused } from './deployer';
import type { DeployResult, StagingDeployer } from './deployer';

/** How to reach Argo CD and which application runs a project's staging environment. */
export interface ArgoCdDeployerOptions {
  /** Argo CD's server, e.g. `https://argocd.example.com`. */
  baseUrl: string;
  /** An API token (`argocd account generate-token`) of an account that may get and sync. */
  token: string;
  /** The Argo CD application of a project's staging environment. */
  application: (projectId: string) => string;
  /** The environment name reported in events (default `staging`). */
  environment?: string;
  /** Where people open staging; default: the application's first external URL, if any. */
  url?: string | null;
  /** Overall deadline of one deploy (default 10 min). */
  timeoutMs?: number;
  /** Pause between two looks at the application (default 2 s). */
  pollMs?: number;
  /** Deadline of one HTTP request (default 30 s). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** The parts of Argo CD's `v1alpha1.Application` this deployer reads. */
interface Application {
  operation?: { sync?: { revision?: string } } | null;
  status?: {
    health?: { status?: string; message?: string };
    sync?: { status?: string; revision?: string };
    operationState?: {
      phase?: string;
      message?: string;
      finishedAt?: string;
      operation?: { sync?: { revision?: string } };
      syncResult?: { revision?: string; resources?: ResourceLine[] };
    } | null;
    resources?: ResourceLine[];
    summary?: { externalURLs?: string[] };
    reconciledAt?: string;
  };
}

/** A resource as `status.resources` and `operationState.syncResult.resources` list it. */
interface ResourceLine {
  kind?: string;
  namespace?: string;
  name?: string;
  status?: string;
  message?: string;
  health?: { status?: string; message?: string };
}

/** A non-2xx answer, with the message of grpc-gateway's `{error, code, message}` body. */
class ArgoCdHttpError extends Error {
  constructor(
    readonly status: number,
    readonly argoMessage: string,
    readonly grpcCode: number | undefined,
  ) {
    super(`HTTP ${status}: ${argoMessage}`);
    this.name = 'ArgoCdHttpError';
  }
}

const IN_PROGRESS = /another operation is already in progress/i;
/** grpc FailedPrecondition: what Argo CD answers a sync while an operation runs. */
const FAILED_PRECONDITION = 9;
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

/** A deployer that syncs Argo CD applications. */
export function createArgoCdDeployer(options: ArgoCdDeployerOptions): StagingDeployer {
  const base = options.baseUrl.replace(/\/+$/, '');
  const shownBase = withoutCredentials(base);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const pollMs = options.pollMs ?? 2000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  // Argo CD never echoes the token, but a proxy in between might; nothing we throw may carry it.
  const redact = (text: string) =>
    options.token ? text.split(options.token).join('[redacted]') : text;

  async function call(method: 'GET' | 'POST', path: string, deadline: number, body?: unknown) {
    const timeout = Math.min(requestTimeoutMs, Math.max(deadline - Date.now(), 1000));
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      throw new Error(
        redact(`Argo CD at ${shownBase} did not answer ${method} ${path}: ${why(err)}`),
      );
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return parseJson(text) as Application;
    const json = parseJson(text) as { message?: unknown; error?: unknown; code?: unknown } | null;
    const message =
      (typeof json?.message === 'string' && json.message) ||
      (typeof json?.error === 'string' && json.error) ||
      text.trim().slice(0, 300) ||
      res.statusText;
    const code = typeof json?.code === 'number' ? json.code : undefined;
    throw new ArgoCdHttpError(res.status, redact(message), code);
  }

  /** An answer no retry fixes becomes DeployRefused; anything else is a retryable Error. */
  function classify(err: unknown, name: string, projectId: string, commit: string): Error {
    if (!(err instanceof ArgoCdHttpError)) {
      return err instanceof Error ? err : new Error(redact(String(err)));
    }
    const said = `HTTP ${err.status}: ${err.argoMessage}`;
    if (err.status >= 500 || RETRYABLE_4XX.has(err.status)) {
      return new Error(`Argo CD at ${shownBase} failed on application "${name}" (${said})`);
    }
    const hint =
      err.status === 401
        ? `Argo CD at ${shownBase} rejected the API token (${said}); configure a valid token of an account that may get and sync application "${name}"`
        : err.status === 403
          ? `Argo CD denied access to application "${name}" (${said}); check that the application exists (Argo CD answers 403 for unknown applications) and that the token's account may get and sync it`
          : err.status === 404
            ? `Argo CD has no application "${name}" (${said}); create it, or fix the Argo CD application configured for project ${projectId}`
            : /auto-sync/i.test(err.argoMessage)
              ? `Argo CD will not sync application "${name}" to ${commit} (${said}); turn off its automated sync policy so that merged commits can be synced`
              : `Argo CD refused to sync application "${name}" to ${commit} (${said})`;
    return new DeployRefused(redact(hint), err.status);
  }

  return {
    kind: 'argocd',
    async deploy({ projectId, commit, progress }): Promise<DeployResult> {
      const name = options.application(projectId);
      const appPath = `/api/v1/applications/${encodeURIComponent(name)}`;
      const deadline = Date.now() + timeoutMs;
      let syncAccepted = false;
      let last: Application | null = null;
      let lastError: Error | null = null;

      for (;;) {
        let note: string;
        try {
          const app = await call('GET', appPath, deadline);
          last = app;
          lastError = null;
          const step = nextStep(app, commit, syncAccepted);
          if (step === 'healthy') {
            progress?.(`${name}: ${describe(app)}`);
            return {
              environment: options.environment ?? 'staging',
              url: options.url ?? app.status?.summary?.externalURLs?.[0] ?? null,
            };
          }
          if (step === 'failed') throw new DeployFailed(redact(failure(name, commit, app)));
          if (step === 'adopt') syncAccepted = true;
          note =
            step === 'wait-other'
              ? `waiting for the running operation (sync to ${short(operationRevision(app))}) to finish`
              : 'waiting until it is Synced at the commit and Healthy';
          if (step === 'sync') {
            try {
              last = await call('POST', `${appPath}/sync`, deadline, {
                name,
                revision: commit,
                prune: true,
              });
              syncAccepted = true;
              note = `sync to ${short(commit)} requested`;
            } catch (err) {
              if (!isInProgress(err)) throw err;
              // Someone else's sync got there first: look again (and adopt it if it is ours).
              note = 'another operation is already in progress; waiting for it';
            }
          }
          progress?.(`${name}: ${describe(last)}; ${note}`);
        } catch (err) {
          if (err instanceof DeployFailed) throw err;
          const problem = classify(err, name, projectId, commit);
          if (problem instanceof DeployRefused) throw problem;
          lastError = problem;
          progress?.(`${name}: ${problem.message}; retrying`);
        }

        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          const seconds = Number((timeoutMs / 1000).toFixed(1));
          // Never having seen the application (or only errors lately) says nothing about its health.
          if (lastError) throw new Error(`${lastError.message} (gave up after ${seconds} s)`);
          throw new DeployFailed(redact(notHealthy(name, commit, last, seconds, syncAccepted)));
        }
        await sleep(Math.min(pollMs, remaining));
      }
    },
  };
}

type Step = 'healthy' | 'failed' | 'sync' | 'adopt' | 'wait-other' | 'wait';

/** What to do after looking at the application. */
function nextStep(app: Application, commit: string, syncAccepted: boolean): Step {
  if (operationRunning(app)) {
    if (syncAccepted) return 'wait';
    return sameRevision(operationRevision(app), commit) ? 'adopt' : 'wait-other';
  }
  const synced = syncedAt(app, commit);
  if (!syncAccepted) {
    if (!synced) return 'sync';
    if (healthIsFresh(app) && app.status?.health?.status === 'Healthy') return 'healthy';
    // Live already matches the commit (an earlier attempt synced it): syncing again would only
    // restart the rollout, so wait for its health like for our own sync.
    return 'adopt';
  }
  if (ourOperationFailed(app, commit)) return 'failed';
  if (synced && healthIsFresh(app)) {
    const health = app.status?.health?.status;
    if (health === 'Healthy') return 'healthy';
    if (health === 'Degraded') return 'failed';
  }
  return 'wait';
}

/** An operation is queued (`operation` set, not yet picked up) or under way. */
function operationRunning(app: Application): boolean {
  const phase = app.status?.operationState?.phase;
  return Boolean(app.operation) || phase === 'Running' || phase === 'Terminating';
}

function ourOperationFailed(app: Application, commit: string): boolean {
  const state = app.status?.operationState;
  return (
    (state?.phase === 'Failed' || state?.phase === 'Error') &&
    sameRevision(state.operation?.sync?.revision ?? state.syncResult?.revision, commit)
  );
}

function syncedAt(app: Application, commit: string): boolean {
  return app.status?.sync?.status === 'Synced' && sameRevision(app.status.sync.revision, commit);
}

/**
 * Health computed before the last operation finished describes the previous commit's pods, so
 * it decides nothing. Argo CD stamps both times (RFC 3339, whole seconds); without them, trust it.
 */
function healthIsFresh(app: Application): boolean {
  const finished = Date.parse(app.status?.operationState?.finishedAt ?? '');
  const reconciled = Date.parse(app.status?.reconciledAt ?? '');
  return Number.isNaN(finished) || Number.isNaN(reconciled) || reconciled >= finished;
}

function operationRevision(app: Application): string | undefined {
  return app.operation?.sync?.revision ?? app.status?.operationState?.operation?.sync?.revision;
}

function sameRevision(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function isInProgress(err: unknown): boolean {
  return (
    err instanceof ArgoCdHttpError &&
    (err.status === 400 || err.status === 409 || err.grpcCode === FAILED_PRECONDITION) &&
    IN_PROGRESS.test(err.argoMessage)
  );
}

/** Why the deploy failed, in Argo CD's words: the operation's message and the resources at fault. */
function failure(name: string, commit: string, app: Application): string {
  const state = app.status?.operationState;
  if (state && ourOperationFailed(app, commit)) {
    const failed = (state.syncResult?.resources ?? [])
      .filter((r) => r.status === 'SyncFailed')
      .map((r) => `${resourceName(r)}: ${r.message ?? 'SyncFailed'}`);
    return [
      `Argo CD sync of application "${name}" to ${short(commit)} ${state.phase === 'Error' ? 'errored' : 'failed'}: ${state.message ?? state.phase}`,
      ...failed.slice(0, 3),
    ].join('; ');
  }
  const degraded = (app.status?.resources ?? [])
    .filter((r) => r.health?.status === 'Degraded')
    .map(
      (r) => `${resourceName(r)} is Degraded${r.health?.message ? ` (${r.health.message})` : ''}`,
    );
  const details = degraded.length > 0 ? degraded.slice(0, 3) : [app.status?.health?.message];
  const said = details.filter(Boolean).join('; ');
  return `Argo CD application "${name}" is Degraded after syncing ${short(commit)}${said ? `: ${said}` : ''}`;
}

function notHealthy(
  name: string,
  commit: string,
  app: Application | null,
  seconds: number,
  syncAccepted: boolean,
): string {
  const health = app?.status?.health?.status ?? 'Unknown';
  const sync = app?.status?.sync?.status ?? 'Unknown';
  const at = app?.status?.sync?.revision;
  const extra: string[] = [];
  if (at && !sameRevision(at, commit)) extra.push(`at ${short(at)}, not ${short(commit)}`);
  const state = app?.status?.operationState;
  if (app && !syncAccepted && operationRunning(app))
    extra.push(`another operation (sync to ${short(operationRevision(app))}) was still running`);
  else if (state?.phase === 'Running')
    extra.push(`operation Running: ${state.message ?? ''}`.trim());
  const tail = extra.length > 0 ? ` (${extra.join('; ')})` : '';
  return `Argo CD application "${name}" not healthy after ${seconds} s: health ${health}, sync ${sync}${tail}`;
}

function describe(app: Application | null): string {
  const s = app?.status;
  const op = s?.operationState?.phase;
  return [
    `sync ${s?.sync?.status ?? 'Unknown'}${s?.sync?.revision ? ` at ${short(s.sync.revision)}` : ''}`,
    `health ${s?.health?.status ?? 'Unknown'}`,
    // `operation` is set from the request until the controller has finished it.
    ...(op ? [`operation ${op}`] : app?.operation ? ['operation pending'] : []),
  ].join(', ');
}

function resourceName(r: ResourceLine): string {
  return `${r.kind ?? 'resource'} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? '?'}`;
}

function short(revision: string | undefined): string {
  if (!revision) return 'unknown revision';
  return /^[0-9a-f]{40}$/i.test(revision) ? revision.slice(0, 7) : revision;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * fetch's errors come from Node's own realm (not `instanceof Error` everywhere), so they are read
 * by shape; the cause carries the useful part (`ECONNREFUSED`, `ENOTFOUND`).
 */
function why(err: unknown): string {
  type Shape = { name?: unknown; message?: unknown; code?: unknown; cause?: Shape } | null;
  const e = (typeof err === 'object' ? err : null) as Shape;
  if (e?.name === 'TimeoutError') return 'timed out';
  for (const part of [e?.cause?.code, e?.cause?.message, e?.message]) {
    if (typeof part === 'string' && part) return part;
  }
  return String(err);
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return url;
  }
}
