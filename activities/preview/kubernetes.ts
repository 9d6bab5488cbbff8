/**
 * The `kubernetes` preview runtime: each preview is a namespace `preview-<name>` holding a
 * NetworkPolicy, a Deployment of the branch's image, a Service and an Ingress at
 * `<name>.<preview domain>`.
 * Every write is create-or-patch, so a retried or repeated deploy converges on the same objects.
 */
import {
  AppsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { KubeConfig, V1Namespace } from '@kubernetes/client-node';
import { kubeCall, KubernetesTransient, statusCode } from './kubernetes-errors';
import type { KubeCall } from './kubernetes-errors';
import {
  deploymentManifest,
  ingressManifest,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  namespaceManifest,
  previewInfoOf,
  previewNamespace,
  serviceManifest,
  validateSpec,
} from './kubernetes-manifests';
import type { ValidSpec } from './kubernetes-manifests';
import { networkPolicyManifest, networkPolicyPatch } from './kubernetes-network-policy';
import { waitForRollout } from './kubernetes-rollout';
import { PreviewFailed } from './runtime';
import type { PreviewInfo, PreviewRuntime, PreviewSpec } from './runtime';

/** How to reach the cluster and what to call the previews. */
export interface KubernetesRuntimeOptions {
  /** `loadFromCluster()` in a pod; `loadFromOptions()`/`loadFromDefault()` elsewhere. */
  kubeConfig: KubeConfig;
  /** Previews are served at `<name>.<previewDomain>`; a wildcard DNS record points it at the ingress. */
  previewDomain: string;
  /** How long a rollout may take before the deploy fails (default 5 minutes). */
  readyTimeoutMs?: number;
  /** How often the rollout is checked (default 2 s). */
  pollMs?: number;
  /** The Ingress class; unset leaves it to the cluster's default class. */
  ingressClassName?: string;
  /** The scheme of preview URLs (default `https`: TLS is the ingress controller's business). */
  scheme?: 'http' | 'https';
  /**
   * Labels of the namespaces the ingress controller runs in, the only ones whose traffic reaches
   * a preview (default `kubernetes.io/metadata.name: ingress-nginx`).
   */
  ingressNamespaceSelector?: Record<string, string>;
}

const DEFAULT_READY_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_POLL_MS = 2_000;

/** Merge patch replaces lists wholesale and merges maps, which is what updating our own objects needs. */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Creates the object, or patches it to the desired state when it already exists. */
async function createOrPatch<T>(
  call: Omit<KubeCall, 'verb'>,
  create: () => Promise<T>,
  patch: () => Promise<T>,
): Promise<T> {
  try {
    return await kubeCall({ ...call, verb: 'create' }, create, [409]);
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    return await kubeCall({ ...call, verb: 'patch' }, patch);
  }
}

/** The Kubernetes preview runtime. */
export function createKubernetesRuntime(options: KubernetesRuntimeOptions): PreviewRuntime {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const apps = options.kubeConfig.makeApiClient(AppsV1Api);
  const networking = options.kubeConfig.makeApiClient(NetworkingV1Api);
  const scheme = options.scheme ?? 'https';
  const url = (name: string) => `${scheme}://${name}.${options.previewDomain}`;

  /**
   * Reads a preview's namespace and refuses one this runtime did not create: the name alone
   * does not make it ours, and neither a deploy nor a teardown may take over someone else's.
   */
  async function ownNamespace(namespace: string): Promise<V1Namespace> {
    const ns = await kubeCall(
      { verb: 'get', resource: 'namespaces' },
      () => core.readNamespace({ name: namespace }),
      [404],
    );
    if (ns.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
      throw new PreviewFailed(
        `namespace ${namespace} exists but is not labelled ${MANAGED_BY_LABEL}=${MANAGED_BY}; aiworker leaves it alone`,
      );
    }
    return ns;
  }

  /** Creates or updates the preview's objects; resolves with its namespace as the server has it. */
  async function applyObjects(v: ValidSpec): Promise<V1Namespace> {
    const { namespace } = v;
    const name = v.spec.name;
    const createdAt = new Date().toISOString();
    const ns = await createOrPatch(
      { resource: 'namespaces' },
      () => core.createNamespace({ body: namespaceManifest(v, createdAt) }),
      async () => {
        await ownNamespace(namespace);
        return core.patchNamespace({ name: namespace, body: namespaceManifest(v) }, MERGE_PATCH);
      },
    );
    // A namespace deleted a moment ago lingers while its content goes; nothing can be created
    // in it until it is gone, so this attempt ends and a retry recreates it.
    if (ns.status?.phase === 'Terminating') {
      throw new KubernetesTransient(
        `namespace ${namespace} is still being deleted; deploy again once it is gone`,
      );
    }
    // Before the Deployment, so the branch's code never runs without it.
    const policy = networkPolicyManifest(v, options.ingressNamespaceSelector);
    await createOrPatch(
      { resource: 'networkpolicies.networking.k8s.io', namespace },
      () => networking.createNamespacedNetworkPolicy({ namespace, body: policy }),
      () =>
        networking.patchNamespacedNetworkPolicy(
          { name, namespace, body: networkPolicyPatch(policy) },
          MERGE_PATCH,
        ),
    );
    const deployment = deploymentManifest(v);
    await createOrPatch(
      { resource: 'deployments.apps', namespace },
      () => apps.createNamespacedDeployment({ namespace, body: deployment }),
      () => apps.patchNamespacedDeployment({ name, namespace, body: deployment }, MERGE_PATCH),
    );
    const service = serviceManifest(v);
    await createOrPatch(
      { resource: 'services', namespace },
      () => core.createNamespacedService({ namespace, body: service }),
      () => core.patchNamespacedService({ name, namespace, body: service }, MERGE_PATCH),
    );
    const ingress = ingressManifest(v, options.ingressClassName);
    await createOrPatch(
      { resource: 'ingresses.networking.k8s.io', namespace },
      () => networking.createNamespacedIngress({ namespace, body: ingress }),
      () => networking.patchNamespacedIngress({ name, namespace, body: ingress }, MERGE_PATCH),
    );
    return ns;
  }

  return {
    kind: 'kubernetes',

    async deploy(spec: PreviewSpec, progress?: (detail: string) => void): Promise<PreviewInfo> {
      const v = validateSpec(spec, options.previewDomain);
      progress?.(`applying ${v.namespace}`);
      const ns = await applyObjects(v);
      await waitForRollout({
        apps,
        core,
        v,
        timeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
        pollMs: options.pollMs ?? DEFAULT_POLL_MS,
        progress,
      });
      const info = previewInfoOf(ns, url);
      if (!info)
        throw new PreviewFailed(`namespace ${v.namespace} lost its ${MANAGED_BY_LABEL} label`);
      return info;
    },

    async teardown(name: string): Promise<boolean> {
      const namespace = previewNamespace(name);
      try {
        const ns = await ownNamespace(namespace);
        if (ns.status?.phase === 'Terminating') return true;
        // Deleting the namespace deletes everything in it; the API answers before that is done.
        await kubeCall(
          { verb: 'delete', resource: 'namespaces' },
          () => core.deleteNamespace({ name: namespace }),
          [404, 409],
        );
        return true;
      } catch (err) {
        // 409: a delete of the same namespace is already under way.
        if (statusCode(err) === 409) return true;
        if (statusCode(err) === 404) return false;
        throw err;
      }
    },

    async list(): Promise<PreviewInfo[]> {
      const namespaces = await kubeCall({ verb: 'list', resource: 'namespaces' }, () =>
        core.listNamespace({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
      );
      return namespaces.items
        .filter((ns) => ns.status?.phase !== 'Terminating')
        .flatMap((ns) => previewInfoOf(ns, url) ?? []);
    },
  };
}
