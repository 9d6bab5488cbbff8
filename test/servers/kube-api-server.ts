/**
 * A stand-in for a Kubernetes API server, for tests of the Kubernetes preview runtime: the paths
 * the runtime calls, with the request and response shapes of the Kubernetes API reference
 * (objects with `metadata.resourceVersion`/`generation`/`uid`, `*List` kinds, `Status` bodies
 * with `reason` and `code` on every error), bearer-token authentication, JSON merge patch, and
 * simulated controllers (kube-api-cluster.ts) so a rollout completes, takes its time, or fails
 * the way a pod does. Plain HTTP: the client is told to skip TLS verification.
 *
 *   GET|POST                /api/v1/namespaces              (list takes labelSelector)
 *   GET|PATCH|PUT|DELETE    /api/v1/namespaces/{name}
 *   GET|POST                /api/v1/namespaces/{ns}/{services|pods}
 *   GET|POST                /apis/apps/v1/namespaces/{ns}/deployments
 *   GET|POST                /apis/networking.k8s.io/v1/namespaces/{ns}/{ingresses|networkpolicies}
 *   GET|PATCH|PUT|DELETE    .../{plural}/{name}
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { SimulatedCluster } from './kube-api-cluster';
import type { RolloutBehaviour } from './kube-api-cluster';
import {
  apiVersionOf,
  canonical,
  clone,
  KubeStatusError,
  matchesSelector,
  mergePatch,
  notFound,
  qualified,
  readJsonBody,
  RESOURCE_TYPES,
  statusBody,
  statusDetails,
  validateObject,
} from './kube-api-objects';
import type { KubeObject, ResourceType } from './kube-api-objects';

export type { RolloutBehaviour, RolloutOutcome } from './kube-api-cluster';

/** One request the server received, as RBAC sees it. */
export interface KubeRecordedRequest {
  verb: string;
  /** `plural` or `plural.group`, as in error messages. */
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
  contentType?: string;
}

/** The server and its knobs. */
export interface KubeTestServer {
  url: string;
  token: string;
  requests: KubeRecordedRequest[];
  /** A KubeConfig for this server with the bearer token (TLS verification off: plain HTTP). */
  kubeConfig(): KubeConfig;
  close(): Promise<void>;
  /** Sets how rollouts starting from now behave, in `namespace` or (without it) everywhere. */
  setRollout(behaviour: RolloutBehaviour, namespace?: string): void;
  /** Answers 403, as RBAC would, to `verb` on `resource` (`namespaces`, `deployments.apps`). */
  forbid(verb: string, resource: string): void;
  /** The next `times` requests answer `status` (5xx, 429) or, with `status: 0`, lose the connection. */
  failNext(status: number, times?: number): void;
  /** How long a deleted namespace stays `Terminating` (default 0: gone at once). */
  setNamespaceDeletionMs(ms: number): void;
  /** Time from a pod template change to the controller's `observedGeneration` (default 50 ms). */
  setObserveDelayMs(ms: number): void;
  /** The stored object, or undefined. */
  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Every stored object of `plural` in `namespace` (all namespaces when omitted). */
  all(plural: string, namespace?: string): KubeObject[];
}

const FAILURE_REASONS: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Where a request goes: the resource type, and the namespace and name when the path has them. */
function route(pathname: string): { t: ResourceType; ns?: string; name?: string } {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)\/(.*)$/.exec(pathname);
  const group = m?.[1] ?? '';
  const [first, a, plural, name, ...rest] = m ? m[2]!.split('/') : [];
  if (first === 'namespaces' && !group && plural === undefined) {
    return { t: RESOURCE_TYPES[0]!, name: a || undefined };
  }
  const t = RESOURCE_TYPES.find((x) => x.namespaced && x.plural === plural && x.group === group);
  if (first !== 'namespaces' || !a || !t || rest.length) {
    throw new KubeStatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
  return { t, ns: a, name: name || undefined };
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startKubeTestServer(): Promise<KubeTestServer> {
  const token = `kube-test-${randomUUID()}`;
  const cluster = new SimulatedCluster();
  const requests: KubeRecordedRequest[] = [];
  const forbidden = new Set<string>();
  let failures = { status: 0, left: 0 };

  /** Creating in a namespace needs the namespace, and not one being deleted. */
  function checkNamespace(t: ResourceType, ns: string | undefined, name: string): void {
    if (!t.namespaced) return;
    const namespace = cluster.get('namespaces', undefined, ns!);
    if (!namespace) {
      throw new KubeStatusError(404, 'NotFound', `namespaces "${ns}" not found`, {
        name: ns,
        kind: 'namespaces',
      });
    }
    if (namespace.metadata.deletionTimestamp) {
      throw new KubeStatusError(
        403,
        'Forbidden',
        `${qualified(t)} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        statusDetails(t, name, {
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${ns} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        }),
      );
    }
  }

  function create(t: ResourceType, ns: string | undefined, body: KubeObject): KubeObject {
    const name: unknown = body.metadata?.name;
    if (body.kind !== t.kind || body.apiVersion !== apiVersionOf(t)) {
      throw new KubeStatusError(
        400,
        'BadRequest',
        `the body is not a ${apiVersionOf(t)} ${t.kind}`,
      );
    }
    if (typeof name !== 'string' || !name) {
      throw new KubeStatusError(
        422,
        'Invalid',
        `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    if (t.namespaced && body.metadata.namespace && body.metadata.namespace !== ns) {
      throw new KubeStatusError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    checkNamespace(t, ns, name);
    validateObject(t, body);
    if (cluster.get(t.plural, ns, name)) {
      throw new KubeStatusError(
        409,
        'AlreadyExists',
        `${qualified(t)} "${name}" already exists`,
        statusDetails(t, name),
      );
    }
    const obj = clone(body);
    obj.metadata = {
      ...obj.metadata,
      ...(t.namespaced ? { namespace: ns } : {}),
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString(),
      ...(t.generation ? { generation: 1 } : {}),
    };
    // Status is the controllers' to write, never the client's.
    delete obj.status;
    if (t.plural === 'namespaces') obj.status = { phase: 'Active' };
    if (t.plural === 'deployments') obj.status = {};
    if (t.plural === 'services') {
      const n = cluster.resourceVersion;
      obj.spec.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`;
    }
    cluster.put(t.plural, obj);
    if (t.plural === 'deployments') cluster.startRollout(obj);
    return obj;
  }

  /** Applies an update (a PUT body or a patched object) with the API server's bookkeeping. */
  function update(t: ResourceType, current: KubeObject, next: KubeObject, precondition?: string) {
    const { name } = current.metadata;
    if (precondition && precondition !== current.metadata.resourceVersion) {
      throw new KubeStatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        statusDetails(t, name),
      );
    }
    const m = current.metadata;
    const updated: KubeObject = {
      ...next,
      kind: t.kind,
      apiVersion: apiVersionOf(t),
      // Fields only the server sets keep their values whatever the client sent.
      metadata: {
        ...next.metadata,
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        creationTimestamp: m.creationTimestamp,
        resourceVersion: m.resourceVersion,
        generation: m.generation,
        deletionTimestamp: m.deletionTimestamp,
      },
      status: current.status,
    };
    if (
      t.plural === 'deployments' &&
      canonical(updated.spec?.selector) !== canonical(current.spec.selector)
    ) {
      throw new KubeStatusError(
        422,
        'Invalid',
        `Deployment.apps "${name}" is invalid: spec.selector: Invalid value: field is immutable`,
      );
    }
    if (t.plural === 'services' && updated.spec && !updated.spec.clusterIP) {
      updated.spec.clusterIP = current.spec.clusterIP;
    }
    validateObject(t, updated);
    // A write that changes nothing is a no-op: same resourceVersion, no new rollout.
    if (canonical(updated) === canonical(current)) return current;
    const specChanged = canonical(updated.spec) !== canonical(current.spec);
    if (t.generation && specChanged) updated.metadata.generation = m.generation + 1;
    cluster.put(t.plural, updated);
    if (t.plural === 'deployments' && specChanged) cluster.startRollout(updated);
    return updated;
  }

  function remove(t: ResourceType, current: KubeObject): KubeObject {
    const { name, namespace, uid } = current.metadata;
    if (t.plural !== 'namespaces') {
      cluster.remove(t.plural, namespace, name);
      const details = statusDetails(t, name, { uid });
      return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
    }
    if (current.metadata.deletionTimestamp) {
      throw new KubeStatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on namespaces "${name}": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.`,
        { name, kind: 'namespaces' },
      );
    }
    // The answer is the namespace, Terminating; the namespace controller removes it later.
    current.metadata.deletionTimestamp = new Date().toISOString();
    current.status = { phase: 'Terminating' };
    cluster.put(t.plural, current);
    return current;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kube');
    const { t, ns, name } = route(url.pathname);
    const verbs: Record<string, string> = name
      ? { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }
      : { GET: 'list', POST: 'create' };
    const verb = verbs[req.method ?? ''];
    if (!verb) {
      throw new KubeStatusError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    }
    const contentType = req.headers['content-type']?.split(';')[0];
    requests.push({
      verb,
      resource: qualified(t),
      group: t.group,
      namespace: ns,
      name,
      contentType,
    });
    if (req.headers.authorization !== `Bearer ${token}`) {
      throw new KubeStatusError(401, 'Unauthorized', 'Unauthorized');
    }
    if (forbidden.has(`${verb} ${qualified(t)}`)) {
      const scope = ns ? `in the namespace "${ns}"` : 'at the cluster scope';
      throw new KubeStatusError(
        403,
        'Forbidden',
        `${qualified(t)}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:aiworker:aiworker-worker" cannot ${verb} resource "${t.plural}" in API group "${t.group}" ${scope}`,
        statusDetails(t, name),
      );
    }
    cluster.reconcile();
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (verb === 'list') {
      const selector = url.searchParams.get('labelSelector') ?? '';
      const items = cluster
        .all(t.plural, ns)
        .filter((o) => matchesSelector(o.metadata.labels ?? {}, selector))
        // Items of a list carry no kind or apiVersion; the list does.
        .map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
      return send(200, {
        kind: `${t.kind}List`,
        apiVersion: apiVersionOf(t),
        metadata: { resourceVersion: String(cluster.resourceVersion) },
        items,
      });
    }
    const wantType = verb === 'patch' ? 'application/merge-patch+json' : 'application/json';
    if ((verb === 'create' || verb === 'update' || verb === 'patch') && contentType !== wantType) {
      throw new KubeStatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${wantType}`,
      );
    }
    if (verb === 'create') return send(201, create(t, ns, await readJsonBody(req)));
    const current = cluster.get(t.plural, ns, name!);
    if (!current) throw notFound(t, name!);
    if (verb === 'get') return send(200, current);
    if (verb === 'delete') {
      const answer = remove(t, current);
      cluster.reconcile();
      return send(200, answer);
    }
    const body = await readJsonBody(req);
    const precondition = body.metadata?.resourceVersion as string | undefined;
    const next = verb === 'patch' ? (mergePatch(current, body) as KubeObject) : body;
    return send(200, update(t, current, next, precondition));
  }

  const server = createServer((req, res) => {
    if (failures.left > 0) {
      failures.left -= 1;
      if (failures.status === 0) {
        req.socket.destroy();
        return;
      }
      const reason = FAILURE_REASONS[failures.status] ?? 'InternalError';
      const error = new KubeStatusError(failures.status, reason, `simulated ${reason}`);
      res.writeHead(failures.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(statusBody(error)));
      return;
    }
    handle(req, res).catch((err: unknown) => {
      const e =
        err instanceof KubeStatusError
          ? err
          : new KubeStatusError(500, 'InternalError', String(err));
      res.writeHead(e.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(statusBody(e)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    token,
    requests,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        // The client refuses plain HTTP unless told not to verify TLS.
        clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
        users: [{ name: 'worker', token }],
        contexts: [{ name: 'test', cluster: 'test', user: 'worker' }],
        currentContext: 'test',
      });
      return kc;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
    setRollout(behaviour, namespace) {
      if (namespace) cluster.rolloutByNamespace.set(namespace, behaviour);
      else cluster.defaultRollout = behaviour;
    },
    forbid: (verb, resource) => void forbidden.add(`${verb} ${resource}`),
    failNext: (status, times = 1) => void (failures = { status, left: times }),
    setNamespaceDeletionMs: (ms) => void (cluster.namespaceDeletionMs = ms),
    setObserveDelayMs: (ms) => void (cluster.observeDelayMs = ms),
    get: (plural, namespace, name) => {
      cluster.reconcile();
      return cluster.get(plural, namespace, name);
    },
    all: (plural, namespace) => {
      cluster.reconcile();
      return cluster.all(plural, namespace);
    },
  };
}
