/**
 * A small stand-in for Argo CD's API server, for tests: it answers the two endpoints the staging
 * deployer uses with the shapes of Argo CD's swagger (`v1alpha1.Application` with metadata, spec,
 * operation and status) and its grpc-gateway errors (`{error, code, message}` with the HTTP status
 * grpc-gateway maps the gRPC code to). Time moves on each GET of an application, the way an
 * application controller would have moved on between two polls, so tests need no sleeps.
 *
 *   GET  /api/v1/applications/{name}
 *   POST /api/v1/applications/{name}/sync   body: ApplicationSyncRequest {revision, prune, ...}
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How a sync of an application ends. */
export type ArgoCdOutcome = 'healthy' | 'degraded' | 'sync-failed' | 'stuck';

/** Per application knobs. */
export interface ArgoCdAppBehaviour {
  /** GETs during which a sync operation is Running; it finishes on the last one (default 1). */
  operationPolls: number;
  /** GETs after the operation finished during which health is Progressing (default 1). */
  progressingPolls: number;
  /** ...and at least this long after it finished, in ms (default 0): slow to become healthy. */
  progressingMs: number;
  /** GETs after the operation finished that still show the previous health, not yet reconciled. */
  staleHealthPolls: number;
  /** `healthy`, `degraded` (rollout exceeds its deadline), `sync-failed` (apply fails), `stuck`. */
  outcome: ArgoCdOutcome;
  /** `status.summary.externalURLs`. */
  externalURLs: string[];
  /** `spec.syncPolicy.automated`: Argo CD then refuses a sync to another revision. */
  automated: boolean;
}

/** One request the server received. */
export interface ArgoCdRecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** The server and its knobs. */
export interface ArgoCdTestServer {
  url: string;
  /** The only bearer token it accepts. */
  token: string;
  close(): Promise<void>;
  /** Adds an application, Synced and Healthy at a random earlier commit. */
  addApplication(name: string, behaviour?: Partial<ArgoCdAppBehaviour>): void;
  setBehaviour(name: string, behaviour: Partial<ArgoCdAppBehaviour>): void;
  /** Someone else's sync to `revision` is under way; it finishes after `polls` GETs. */
  startOperation(name: string, revision: string, polls?: number): void;
  /** The next sync request loses a race: a sync to `revision` starts just before it. */
  raceNextSync(name: string, revision: string): void;
  /** The next `count` requests fail with `status` (an ingress page for 502-504). */
  failNext(count: number, status?: number): void;
  /** The next `count` requests are answered only after `ms`. */
  delayNext(count: number, ms: number): void;
  /** Unknown applications answer 403 "permission denied", as Argo CD 2.x does without `project`. */
  hideUnknownApplications(hide?: boolean): void;
  requests: ArgoCdRecordedRequest[];
  /** Bodies of the sync requests, oldest first. */
  syncRequests(name?: string): Array<Record<string, unknown>>;
  /** The application as a GET would show it, without moving time on. */
  application(name: string): Record<string, unknown>;
}

interface Operation {
  revision: string;
  prune: boolean;
  /** The account that asked; `automated` for Argo CD's own auto-sync. */
  username: string;
  startedAt: string;
  polls: number;
  total: number;
}

interface AppState {
  name: string;
  behaviour: ArgoCdAppBehaviour;
  createdAt: string;
  syncStatus: 'Synced' | 'OutOfSync';
  revision: string;
  health: 'Healthy' | 'Progressing' | 'Degraded';
  reconciledAt: string;
  operation: Operation | null;
  operationState: Record<string, unknown> | null;
  /** Set while health settles after an operation. */
  settling: { polls: number; since: number; stale: number } | null;
  raceRevision: string | null;
}

const DEFAULTS: ArgoCdAppBehaviour = {
  operationPolls: 1,
  progressingPolls: 1,
  progressingMs: 0,
  staleHealthPolls: 0,
  outcome: 'healthy',
  externalURLs: [],
  automated: false,
};

/** gRPC codes and the HTTP status grpc-gateway answers them with. */
const GRPC = {
  invalidArgument: [3, 400],
  notFound: [5, 404],
  permissionDenied: [7, 403],
  failedPrecondition: [9, 400],
  internal: [13, 500],
  unauthenticated: [16, 401],
} as const;

/** Argo CD prints times as RFC 3339 with whole seconds. */
const stamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const sha = () => randomBytes(20).toString('hex');
/** The account the test token belongs to. */
const API_ACCOUNT = 'aiworker';

/** Starts the server on a free port of 127.0.0.1. */
export async function startArgoCdTestServer(): Promise<ArgoCdTestServer> {
  const token = `argocd-test-${randomBytes(12).toString('hex')}`;
  const apps = new Map<string, AppState>();
  const requests: ArgoCdRecordedRequest[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let delays = { count: 0, ms: 0 };
  let hideUnknown = false;

  const app = (name: string): AppState => {
    const found = apps.get(name);
    if (!found) throw new Error(`no application ${name} on the Argo CD test server`);
    return found;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      sendError(res, GRPC.internal, err instanceof Error ? err.message : String(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://argocd.test');
    const raw = await readBody(req);
    let body: unknown = undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, authorization, body });

    if (delays.count > 0) {
      delays.count -= 1;
      await new Promise((resolve) => setTimeout(resolve, delays.ms));
      if (res.destroyed) return;
    }
    if (failures.count > 0) {
      failures.count -= 1;
      return sendFailure(res, failures.status);
    }
    if (!authorization) return sendError(res, GRPC.unauthenticated, 'no session information');
    if (authorization !== `Bearer ${token}`) {
      return sendError(res, GRPC.unauthenticated, 'invalid session: token signature is invalid');
    }

    const match = /^\/api\/v1\/applications\/([^/]+)(\/sync)?$/.exec(url.pathname);
    const isGet = req.method === 'GET' && match && !match[2];
    const isSync = req.method === 'POST' && match?.[2];
    if (!match || (!isGet && !isSync)) return sendError(res, GRPC.notFound, 'Not Found');
    const name = decodeURIComponent(match[1] ?? '');
    const state = apps.get(name);
    if (!state) {
      return hideUnknown
        ? sendError(res, GRPC.permissionDenied, 'permission denied')
        : sendError(res, GRPC.notFound, `applications.argoproj.io "${name}" not found`);
    }
    if (isGet) {
      advance(state);
      return sendJson(res, 200, render(state));
    }
    if (typeof body !== 'object' || body === null) {
      return sendError(res, GRPC.invalidArgument, 'unexpected end of JSON input');
    }
    sync(res, state, body as Record<string, unknown>);
  }

  function sync(res: ServerResponse, state: AppState, request: Record<string, unknown>): void {
    const revision = typeof request.revision === 'string' ? request.revision : '';
    if (state.behaviour.automated && revision !== '' && revision !== 'staging') {
      return sendError(
        res,
        GRPC.failedPrecondition,
        `Cannot sync to ${revision}: auto-sync currently set to staging`,
      );
    }
    if (state.raceRevision !== null && !state.operation) {
      startOperation(state, state.raceRevision, { total: 2, username: 'automated' });
      state.raceRevision = null;
    }
    if (state.operation) {
      return sendError(res, GRPC.failedPrecondition, 'another operation is already in progress');
    }
    startOperation(state, revision || state.revision, {
      total: state.behaviour.operationPolls,
      username: API_ACCOUNT,
      prune: request.prune === true,
    });
    sendJson(res, 200, render(state));
  }

  function startOperation(
    state: AppState,
    revision: string,
    how: { total: number; username: string; prune?: boolean },
  ) {
    state.operation = {
      revision,
      prune: how.prune ?? true,
      username: how.username,
      startedAt: stamp(),
      polls: 0,
      total: Math.max(1, how.total),
    };
    // As Argo CD's SetAppOperation does: a new operation clears the previous operation state.
    state.operationState = null;
    state.settling = null;
  }

  /** What the application controller did since the last look. */
  function advance(state: AppState): void {
    const op = state.operation;
    const now = Date.now();
    if (op) {
      op.polls += 1;
      state.operationState = operationState(state, op, 'Running', 'one or more tasks are running');
      state.reconciledAt = stamp(now);
      if (op.polls >= op.total) finishOperation(state, op, now);
      return;
    }
    const settling = state.settling;
    if (!settling) {
      state.reconciledAt = stamp(now);
      return;
    }
    if (settling.stale > 0) {
      settling.stale -= 1;
      return;
    }
    state.reconciledAt = stamp(now);
    settling.polls += 1;
    const { progressingPolls, progressingMs, outcome } = state.behaviour;
    if (settling.polls < progressingPolls || now - settling.since < progressingMs) {
      state.health = 'Progressing';
      return;
    }
    if (outcome === 'healthy') state.health = 'Healthy';
    else if (outcome === 'degraded') state.health = 'Degraded';
    else state.health = 'Progressing';
    if (outcome !== 'stuck') state.settling = null;
  }

  function finishOperation(state: AppState, op: Operation, now: number): void {
    state.operation = null;
    // Only syncs through the API fail: the knob is about the commit the test deploys.
    const failed = state.behaviour.outcome === 'sync-failed' && op.username === API_ACCOUNT;
    if (failed) {
      state.syncStatus = 'OutOfSync';
      state.operationState = {
        ...operationState(
          state,
          op,
          'Failed',
          'one or more objects failed to apply, reason: Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value',
        ),
        finishedAt: stamp(now),
      };
      return;
    }
    state.syncStatus = 'Synced';
    state.revision = op.revision;
    state.operationState = {
      ...operationState(state, op, 'Succeeded', 'successfully synced (all tasks run)'),
      finishedAt: stamp(now),
    };
    const stale = state.behaviour.staleHealthPolls;
    if (stale > 0) {
      // The last reconciliation predates the operation: health still describes the old pods.
      state.reconciledAt = stamp(now - 5000);
    } else {
      state.health = 'Progressing';
    }
    state.settling = { polls: 0, since: now, stale };
  }

  function operationState(state: AppState, op: Operation, phase: string, message: string) {
    const failed = phase === 'Failed';
    return {
      operation: {
        sync: { revision: op.revision, prune: op.prune },
        initiatedBy: initiatedBy(op),
        retry: {},
      },
      phase,
      message,
      startedAt: op.startedAt,
      syncResult: {
        revision: op.revision,
        source: source(),
        resources: [
          resource(state, 'apps', 'Deployment', 'web', {
            status: failed ? 'SyncFailed' : 'Synced',
            message: failed
              ? 'Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value'
              : 'deployment.apps/web configured',
            hookPhase: failed ? 'Failed' : phase === 'Running' ? 'Running' : 'Succeeded',
            syncPhase: 'Sync',
          }),
          resource(state, '', 'Service', 'web', {
            status: 'Synced',
            message: 'service/web unchanged',
            hookPhase: phase === 'Running' ? 'Running' : 'Succeeded',
            syncPhase: 'Sync',
          }),
        ],
      },
    };
  }

  function render(state: AppState): Record<string, unknown> {
    const degraded = state.health === 'Degraded';
    const webHealth = degraded
      ? { status: 'Degraded', message: 'Deployment "web" exceeded its progress deadline' }
      : state.health === 'Progressing'
        ? {
            status: 'Progressing',
            message: 'Waiting for rollout to finish: 1 old replicas are pending termination...',
          }
        : { status: 'Healthy' };
    return {
      metadata: {
        name: state.name,
        namespace: 'argocd',
        uid: `uid-${state.name}`,
        creationTimestamp: state.createdAt,
      },
      spec: {
        project: 'default',
        source: source(),
        destination: { server: 'https://kubernetes.default.svc', namespace: state.name },
        syncPolicy: state.behaviour.automated ? { automated: { prune: true, selfHeal: true } } : {},
      },
      ...(state.operation
        ? {
            operation: {
              sync: { revision: state.operation.revision, prune: state.operation.prune },
              initiatedBy: initiatedBy(state.operation),
            },
          }
        : {}),
      status: {
        resources: [
          {
            ...resource(state, 'apps', 'Deployment', 'web', { status: state.syncStatus }),
            health: webHealth,
          },
          {
            ...resource(state, '', 'Service', 'web', { status: 'Synced' }),
            health: { status: 'Healthy' },
          },
        ],
        sync: {
          status: state.syncStatus,
          revision: state.revision,
          comparedTo: {
            source: source(),
            destination: { server: 'https://kubernetes.default.svc', namespace: state.name },
          },
        },
        health: { status: state.health },
        ...(state.operationState ? { operationState: state.operationState } : {}),
        reconciledAt: state.reconciledAt,
        sourceType: 'Directory',
        summary: {
          externalURLs: state.behaviour.externalURLs,
          images: [`registry.example/web:${state.revision.slice(0, 7)}`],
        },
      },
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    addApplication(name, behaviour = {}) {
      const now = stamp();
      apps.set(name, {
        name,
        behaviour: { ...DEFAULTS, ...behaviour },
        createdAt: now,
        syncStatus: 'Synced',
        revision: sha(),
        health: 'Healthy',
        reconciledAt: now,
        operation: null,
        operationState: null,
        settling: null,
        raceRevision: null,
      });
    },
    setBehaviour(name, behaviour) {
      const state = app(name);
      state.behaviour = { ...state.behaviour, ...behaviour };
    },
    startOperation(name, revision, polls = 2) {
      startOperation(app(name), revision, { total: polls, username: 'someone-else' });
    },
    raceNextSync(name, revision) {
      app(name).raceRevision = revision;
    },
    failNext(count, status = 503) {
      failures = { count, status };
    },
    delayNext(count, ms) {
      delays = { count, ms };
    },
    hideUnknownApplications(hide = true) {
      hideUnknown = hide;
    },
    syncRequests(name) {
      return requests
        .filter(
          (r) => r.method === 'POST' && (!name || r.path === `/api/v1/applications/${name}/sync`),
        )
        .map((r) => r.body as Record<string, unknown>);
    },
    application: (name) => render(app(name)),
  };
}

function initiatedBy(op: Operation) {
  return op.username === 'automated' ? { automated: true } : { username: op.username };
}

function source() {
  return {
    repoURL: 'https://git.example/acme/shop.git',
    path: 'deploy',
    targetRevision: 'staging',
  };
}

function resource(
  state: AppState,
  group: string,
  kind: string,
  name: string,
  extra: Record<string, unknown>,
) {
  return {
    ...(group ? { group } : {}),
    version: 'v1',
    kind,
    namespace: state.name,
    name,
    ...extra,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** grpc-gateway's error body: `error` repeats `message` for older clients. */
function sendError(
  res: ServerResponse,
  [code, status]: readonly [number, number],
  message: string,
): void {
  sendJson(res, status, { error: message, code, message });
}

/** 500 from argocd-server itself; 502-504 from the ingress in front of it, as an HTML page. */
function sendFailure(res: ServerResponse, status: number): void {
  if (status === 500) {
    return sendError(
      res,
      GRPC.internal,
      'error getting cached app state: context deadline exceeded',
    );
  }
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/html' });
  res.end(
    `<html><body><center><h1>${status} Service Temporarily Unavailable</h1></center></body></html>`,
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
