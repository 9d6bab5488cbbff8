/**
 * The pieces of the Kubernetes API the test server shares: the resource types it serves, the
 * `Status` error body, JSON merge patch and label selectors, each as the API reference
 * describes them.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** A stored object, as JSON. */
export type KubeObject = Record<string, any>;

/** A resource type the server serves. */
export interface ResourceType {
  group: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Whether a spec change bumps `metadata.generation` (the API server does so for these). */
  generation: boolean;
}

/** What the server serves; the first is the namespace. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: '', kind: 'Namespace', plural: 'namespaces', namespaced: false, generation: false },
  { group: '', kind: 'Service', plural: 'services', namespaced: true, generation: false },
  { group: '', kind: 'Pod', plural: 'pods', namespaced: true, generation: false },
  { group: 'apps', kind: 'Deployment', plural: 'deployments', namespaced: true, generation: true },
  {
    group: 'networking.k8s.io',
    kind: 'Ingress',
    plural: 'ingresses',
    namespaced: true,
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    namespaced: true,
    generation: true,
  },
];

/** `plural.group`, as RBAC rules and error messages spell a resource. */
export const qualified = (t: ResourceType) => (t.group ? `${t.plural}.${t.group}` : t.plural);
/** The `apiVersion` of objects of `t`. */
export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/v1` : 'v1');

/** An error answered as a `Status` object with this HTTP code and reason. */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeObject,
  ) {
    super(message);
    this.name = 'KubeStatusError';
  }
}

/** `details` of a Status about one object. */
export function statusDetails(t: ResourceType, name: string | undefined, extra?: KubeObject) {
  return {
    ...(name ? { name } : {}),
    ...(t.group ? { group: t.group } : {}),
    kind: t.plural,
    ...extra,
  };
}

/** The `Status` body the API server sends with an error. */
export function statusBody(e: KubeStatusError) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: e.message,
    reason: e.reason,
    ...(e.details ? { details: e.details } : {}),
    code: e.code,
  };
}

/** The 404 for a missing object. */
export function notFound(t: ResourceType, name: string): KubeStatusError {
  return new KubeStatusError(
    404,
    'NotFound',
    `${qualified(t)} "${name}" not found`,
    statusDetails(t, name),
  );
}

/** A deep copy, so callers never share a stored object. */
export const clone = <T>(v: T): T => structuredClone(v);

/** JSON with sorted keys, so two objects compare equal whatever order their fields came in. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
}

/** RFC 7386 JSON merge patch: maps merge, `null` deletes, anything else (lists too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: KubeObject =
    target && typeof target === 'object' && !Array.isArray(target)
      ? clone(target as KubeObject)
      : {};
  for (const [k, v] of Object.entries(patch as KubeObject)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Equality- and set-based label selectors (`a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`). */
export function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  const terms = selector.split(/,(?![^(]*\))/).map((t) => t.trim());
  return terms.every((term) => {
    if (!term) return true;
    let m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) return m[2] === '!=' ? labels[m[1]!] !== m[3] : labels[m[1]!] === m[3];
    m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const has = m[1]! in labels && values.includes(labels[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) return m[1] ? !(m[2]! in labels) : m[2]! in labels;
    throw new KubeStatusError(400, 'BadRequest', `unable to parse requirement: ${term}`);
  });
}

/** The request's JSON body; a missing or broken one is a 400, as on the real server. */
export async function readJsonBody(req: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KubeStatusError(400, 'BadRequest', 'the request body is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KubeStatusError(400, 'BadRequest', 'the request body is not a JSON object');
  }
  return parsed;
}

/** A CIDR as bits: the family, the address as a bigint, and the prefix length; null if invalid. */
function parseCidr(text: unknown): { v6: boolean; bits: bigint; prefix: number } | null {
  if (typeof text !== 'string') return null;
  const [address, length, ...rest] = text.split('/');
  const prefix = Number(length);
  if (rest.length || !address || !/^\d+$/.test(length ?? '')) return null;
  if (isIPv4(address) && prefix <= 32) {
    const bits = address.split('.').reduce((n, part) => (n << 8n) | BigInt(part), 0n);
    return { v6: false, bits, prefix };
  }
  if (isIPv6(address) && prefix <= 128 && !address.includes('.')) {
    const [head = '', tail = ''] = address.split('::');
    const groups = (p: string) => (p ? p.split(':') : []);
    const missing = 8 - groups(head).length - groups(tail).length;
    const all = [
      ...groups(head),
      ...Array<string>(address.includes('::') ? missing : 0).fill('0'),
      ...groups(tail),
    ];
    const bits = all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
    return { v6: true, bits, prefix };
  }
  return null;
}

/** Whether CIDR `inner` lies strictly inside `outer` (the API requires `except` to). */
function strictlyInside(inner: ReturnType<typeof parseCidr>, outer: ReturnType<typeof parseCidr>) {
  if (!inner || !outer || inner.v6 !== outer.v6 || inner.prefix <= outer.prefix) return false;
  const width = BigInt(inner.v6 ? 128 : 32);
  const shift = width - BigInt(outer.prefix);
  return inner.bits >> shift === outer.bits >> shift;
}

function invalid(t: ResourceType, name: string, causes: string[]): KubeStatusError {
  return new KubeStatusError(
    422,
    'Invalid',
    `${t.kind}.${t.group || 'core'} "${name}" is invalid: ${causes.join(', ')}`,
    statusDetails(t, name, {
      causes: causes.map((message) => ({ reason: 'FieldValueInvalid', message })),
    }),
  );
}

/**
 * The API server's validation of what it stores, for the kinds where a mistake in a manifest is
 * easy to make and silent elsewhere: a NetworkPolicy (its selectors, policy types, ports and
 * ipBlocks, with `except` strictly inside `cidr`).
 */
export function validateObject(t: ResourceType, obj: KubeObject): void {
  if (t.plural !== 'networkpolicies') return;
  const name = String(obj.metadata?.name ?? '');
  const spec = obj.spec ?? {};
  const causes: string[] = [];
  if (!spec.podSelector || typeof spec.podSelector !== 'object') {
    causes.push('spec.podSelector: Required value');
  }
  for (const type of spec.policyTypes ?? []) {
    if (type !== 'Ingress' && type !== 'Egress') {
      causes.push(`spec.policyTypes: Unsupported value: "${type}"`);
    }
  }
  const rules = [
    ...(spec.ingress ?? []).map((r: KubeObject, i: number) => ['ingress', i, r.from] as const),
    ...(spec.egress ?? []).map((r: KubeObject, i: number) => ['egress', i, r.to] as const),
  ];
  for (const [kind, i, peers] of rules) {
    const rule = spec[kind][i];
    if (kind === 'ingress' && '_from' in rule)
      causes.push(`spec.ingress[${i}]._from: unknown field`);
    for (const [j, port] of ((rule.ports ?? []) as KubeObject[]).entries()) {
      if (port.protocol && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) {
        causes.push(
          `spec.${kind}[${i}].ports[${j}].protocol: Unsupported value: "${port.protocol}"`,
        );
      }
    }
    for (const [j, peer] of ((peers ?? []) as KubeObject[]).entries()) {
      const where = `spec.${kind}[${i}].${kind === 'ingress' ? 'from' : 'to'}[${j}]`;
      if (peer.ipBlock && (peer.podSelector || peer.namespaceSelector)) {
        causes.push(`${where}: Forbidden: may not specify more than 1 peer type`);
      }
      if (!peer.ipBlock) continue;
      const cidr = parseCidr(peer.ipBlock.cidr);
      if (!cidr) causes.push(`${where}.ipBlock.cidr: Invalid value: "${peer.ipBlock.cidr}"`);
      for (const [k, except] of ((peer.ipBlock.except ?? []) as string[]).entries()) {
        if (!strictlyInside(parseCidr(except), cidr)) {
          causes.push(
            `${where}.ipBlock.except[${k}]: Invalid value: "${except}": must be a strict subset of \`cidr\``,
          );
        }
      }
    }
  }
  if (causes.length) throw invalid(t, name, causes);
}
