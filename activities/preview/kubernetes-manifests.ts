/**
 * The objects a Kubernetes preview is made of, built from a `PreviewSpec`: a namespace of its own
 * and, inside it, a NetworkPolicy (kubernetes-network-policy.ts), a Deployment, a Service and an
 * Ingress that all carry the preview's name. The branch's code is untrusted: its pod runs as a
 * non-root user without privileges or a service account token, within resource limits.
 */
import type { V1Deployment, V1Ingress, V1Namespace, V1Service } from '@kubernetes/client-node';
import { previewEnvSchema, previewResourcesSchema } from '../../contracts/project';
import { PreviewFailed } from './runtime';
import type { PreviewInfo, PreviewSpec } from './runtime';

/** Label on every namespace this runtime owns; `list()` and the admission policy select on it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Value of {@link MANAGED_BY_LABEL}. */
export const MANAGED_BY = 'aiworker';
/** Label that selects a preview's pods (the Deployment's selector, the Service's selector). */
export const NAME_LABEL = 'app.kubernetes.io/name';

/** Annotations (and, where the value fits, labels) that let `list()` rebuild a `PreviewInfo`. */
export const ANNOTATIONS = {
  preview: 'aiworker.dev/preview',
  taskId: 'aiworker.dev/task-id',
  projectId: 'aiworker.dev/project-id',
  commit: 'aiworker.dev/commit',
  branch: 'aiworker.dev/branch',
  createdAt: 'aiworker.dev/created-at',
} as const;

/** Resources of a preview's container unless the project's `preview.resources` says otherwise. */
export const DEFAULT_RESOURCES = {
  cpuRequest: '100m',
  cpuLimit: '1',
  memoryRequest: '128Mi',
  memoryLimit: '512Mi',
} as const;
/** The user a preview's container runs as unless the project's `preview.runAsUser` says otherwise. */
export const DEFAULT_RUN_AS_USER = 10001;
/** The container's port name; the probe and the Service refer to it so the number lives once. */
const PORT_NAME = 'http';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The namespace a preview lives in. */
export function previewNamespace(name: string): string {
  return `preview-${name}`;
}

/** The preview a namespace holds, or null when the namespace is not a preview's. */
export function previewNameOf(namespace: string): string | null {
  return namespace.startsWith('preview-') ? namespace.slice('preview-'.length) : null;
}

/**
 * The image tag for a branch. Tags allow `[A-Za-z0-9_.-]`, may not start with `.` or `-`, and
 * stop at 128 characters; CI pipelines that push `image:<branch>` apply the same substitution.
 */
export function branchImageTag(branch: string): string {
  const tag = branch
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  if (!tag) throw new PreviewFailed(`branch "${branch}" gives no usable image tag`);
  return tag;
}

/** `config.image` with the branch's tag in place of any tag it already had. */
export function previewImage(image: string, branch: string): string {
  if (image.includes('@')) {
    throw new PreviewFailed(
      `preview image "${image}" is pinned to a digest; give the repository only (the branch's tag is added)`,
    );
  }
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  // A colon before the last slash is a registry port (`registry:5000/app`), not a tag.
  const repository = colon > slash ? image.slice(0, colon) : image;
  return `${repository}:${branchImageTag(branch)}`;
}

/** What a deploy needs that `PreviewSpec` leaves optional, checked up front. */
export interface ValidSpec {
  spec: PreviewSpec;
  namespace: string;
  image: string;
  port: number;
  healthPath: string;
  host: string;
  env: Record<string, string>;
  resources: { cpuRequest: string; cpuLimit: string; memoryRequest: string; memoryLimit: string };
  runAsUser: number;
  readOnlyRootFilesystem: boolean;
}

/** Checks a spec for this runtime; every problem here is the project's to fix, not a retry's. */
export function validateSpec(spec: PreviewSpec, previewDomain: string): ValidSpec {
  const namespace = previewNamespace(spec.name);
  if (!DNS_LABEL.test(spec.name) || namespace.length > 63) {
    throw new PreviewFailed(
      `preview name "${spec.name}" cannot name a namespace (lowercase letters, digits and "-", at most 55 characters)`,
    );
  }
  const { image, port } = spec.config;
  if (!image) throw new PreviewFailed('the project has no preview image (preview.image)');
  if (!port || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PreviewFailed('the project has no valid preview port (preview.port, 1-65535)');
  }
  const healthPath = spec.config.healthPath || '/';
  // Checked again: the worker reads the project back from the database as plain JSON.
  const env = previewEnvSchema.optional().safeParse(spec.config.env);
  if (!env.success) {
    throw new PreviewFailed(
      `the project's preview.env is invalid: ${env.error.issues[0]?.message}`,
    );
  }
  const resources = previewResourcesSchema.optional().safeParse(spec.config.resources);
  if (!resources.success) {
    const issue = resources.error.issues[0];
    throw new PreviewFailed(
      `the project's preview.resources.${issue?.path.join('.')} is invalid: ${issue?.message}`,
    );
  }
  const { runAsUser = DEFAULT_RUN_AS_USER, readOnlyRootFilesystem = true } = spec.config;
  if (!Number.isInteger(runAsUser) || runAsUser < 1 || runAsUser > 2_147_483_647) {
    throw new PreviewFailed(
      "the project's preview.runAsUser must be a user id other than root (0)",
    );
  }
  return {
    spec,
    namespace,
    image: previewImage(image, spec.branch),
    port,
    healthPath: healthPath.startsWith('/') ? healthPath : `/${healthPath}`,
    host: `${spec.name}.${previewDomain}`,
    env: env.data ?? {},
    resources: { ...DEFAULT_RESOURCES, ...resources.data },
    runAsUser,
    readOnlyRootFilesystem: readOnlyRootFilesystem !== false,
  };
}

/** Labels every object of a preview carries. */
export function commonLabels(spec: PreviewSpec): Record<string, string> {
  const labels: Record<string, string> = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [NAME_LABEL]: spec.name,
  };
  // Ids as labels make `kubectl get ns -l aiworker.dev/project-id=...` work; annotations keep
  // them whatever their shape, since a label value is limited to 63 plain characters.
  for (const [key, value] of [
    [ANNOTATIONS.projectId, spec.projectId],
    [ANNOTATIONS.taskId, spec.taskId],
  ] as const) {
    if (value && value.length <= 63 && LABEL_VALUE.test(value)) labels[key] = value;
  }
  return labels;
}

function specAnnotations(spec: PreviewSpec): Record<string, string> {
  return {
    [ANNOTATIONS.preview]: spec.name,
    [ANNOTATIONS.projectId]: spec.projectId,
    [ANNOTATIONS.taskId]: spec.taskId ?? '',
    [ANNOTATIONS.commit]: spec.commit,
    [ANNOTATIONS.branch]: spec.branch,
  };
}

/**
 * The namespace. `created-at` is sent only on create: the patch that updates an existing
 * preview leaves the original time in place.
 */
export function namespaceManifest(v: ValidSpec, createdAt?: string): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: v.namespace,
      labels: commonLabels(v.spec),
      annotations: {
        ...specAnnotations(v.spec),
        ...(createdAt ? { [ANNOTATIONS.createdAt]: createdAt } : {}),
      },
    },
  };
}

/** The Deployment: one replica of the branch's image, ready once the health path answers. */
export function deploymentManifest(v: ValidSpec): V1Deployment {
  const selector = { [NAME_LABEL]: v.spec.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: v.spec.name,
      labels: commonLabels(v.spec),
      annotations: specAnnotations(v.spec),
    },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 2,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: { ...commonLabels(v.spec), ...selector },
          // The branch's tag does not change between commits; a new commit changes this
          // annotation, which changes the pod template and so starts a rollout.
          annotations: { [ANNOTATIONS.commit]: v.spec.commit },
        },
        spec: {
          // The branch's code has no business with the cluster's API.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: v.runAsUser,
            runAsGroup: v.runAsUser,
            fsGroup: v.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'app',
              image: v.image,
              // The tag moves with the branch, so a cached image would be the previous commit.
              imagePullPolicy: 'Always',
              ports: [{ name: PORT_NAME, containerPort: v.port }],
              env: [
                ...Object.entries(v.env).map(([name, value]) => ({ name, value })),
                { name: 'PORT', value: String(v.port) },
              ],
              readinessProbe: {
                httpGet: { path: v.healthPath, port: PORT_NAME },
                periodSeconds: 5,
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                capabilities: { drop: ['ALL'] },
                readOnlyRootFilesystem: v.readOnlyRootFilesystem,
              },
              resources: {
                requests: { cpu: v.resources.cpuRequest, memory: v.resources.memoryRequest },
                limits: {
                  cpu: v.resources.cpuLimit,
                  memory: v.resources.memoryLimit,
                  'ephemeral-storage': '1Gi',
                },
              },
              // A read-only root still lets the app write temporary files.
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }],
        },
      },
    },
  };
}

/** The Service in front of the preview's pods. */
export function serviceManifest(v: ValidSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: v.spec.name, labels: commonLabels(v.spec) },
    spec: {
      type: 'ClusterIP',
      selector: { [NAME_LABEL]: v.spec.name },
      ports: [{ name: PORT_NAME, port: 80, targetPort: PORT_NAME }],
    },
  };
}

/** The Ingress that gives the preview its host, `<name>.<preview domain>`. */
export function ingressManifest(v: ValidSpec, ingressClassName?: string): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: v.spec.name, labels: commonLabels(v.spec) },
    spec: {
      ...(ingressClassName ? { ingressClassName } : {}),
      rules: [
        {
          host: v.host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: v.spec.name, port: { name: PORT_NAME } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/** Rebuilds a `PreviewInfo` from a namespace this runtime made; null for any other namespace. */
export function previewInfoOf(ns: V1Namespace, url: (name: string) => string): PreviewInfo | null {
  const meta = ns.metadata;
  const name = meta?.name ? previewNameOf(meta.name) : null;
  if (!meta || !name || meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return null;
  const a = meta.annotations ?? {};
  const created = a[ANNOTATIONS.createdAt] ?? meta.creationTimestamp;
  return {
    name,
    projectId: a[ANNOTATIONS.projectId] ?? '',
    taskId: a[ANNOTATIONS.taskId] || null,
    url: url(name),
    commit: a[ANNOTATIONS.commit] ?? '',
    createdAt: created ? new Date(created).toISOString() : '',
  };
}
