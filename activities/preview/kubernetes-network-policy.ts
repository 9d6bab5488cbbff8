/**
 * The NetworkPolicy of a Kubernetes preview's namespace: the branch's code is untrusted, so its
 * pods accept traffic only from the ingress controller and reach only DNS and public addresses,
 * never the cluster's private ranges where aiworker, Temporal, Redis and the database live.
 */
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { commonLabels } from './kubernetes-manifests';
import type { ValidSpec } from './kubernetes-manifests';

/** Namespaces the ingress controller runs in (the only source of traffic a preview accepts). */
export const DEFAULT_INGRESS_NAMESPACE_SELECTOR: Record<string, string> = {
  'kubernetes.io/metadata.name': 'ingress-nginx',
};
/**
 * Addresses a preview may not reach, whatever the internet rule says: private ranges (the
 * cluster's pods and services, aiworker, Temporal, Redis, the database), shared and link-local
 * space (cloud metadata services), loopback.
 */
export const PRIVATE_RANGES = {
  ipv4: [
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    '100.64.0.0/10',
    '169.254.0.0/16',
    '127.0.0.0/8',
  ],
  ipv6: ['fc00::/7', 'fe80::/10', '::1/128'],
} as const;

/**
 * The NetworkPolicy of the preview's namespace: traffic in only from the ingress controller's
 * namespaces, to the app's port; traffic out only to the cluster's DNS and to public addresses.
 * Kubelet probes come from the node and are not subject to it on common network plugins.
 */
export function networkPolicyManifest(
  v: ValidSpec,
  ingressNamespaces: Record<string, string> = DEFAULT_INGRESS_NAMESPACE_SELECTOR,
): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: v.spec.name, labels: commonLabels(v.spec) },
    spec: {
      // Every pod of the namespace.
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          _from: [{ namespaceSelector: { matchLabels: ingressNamespaces } }],
          ports: [{ protocol: 'TCP', port: v.port }],
        },
      ],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        {
          to: [
            { ipBlock: { cidr: '0.0.0.0/0', except: [...PRIVATE_RANGES.ipv4] } },
            { ipBlock: { cidr: '::/0', except: [...PRIVATE_RANGES.ipv6] } },
          ],
        },
      ],
    },
  };
}

/**
 * A NetworkPolicy as the API server reads it, for a merge patch. The client's models spell
 * `from` as `_from` and rename it only when they serialize a typed body (a create); a patch is
 * sent as it is, and the server would drop `_from` as unknown, leaving a rule open to everyone.
 */
export function networkPolicyPatch(policy: V1NetworkPolicy): object {
  const { spec, ...rest } = policy;
  const ingress = spec?.ingress?.map(({ _from, ...rule }) => ({ ...rule, from: _from }));
  return { ...rest, spec: { ...spec, ...(ingress ? { ingress } : {}) } };
}
