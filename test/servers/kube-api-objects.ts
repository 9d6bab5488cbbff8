/**
 * The pieces of the Kubernetes API the test server shares: the resource types it serves, the
 * `Status` error body, JSON merge patch and label selectors, each as the API reference
 * describes them.
 */
import type { IncomingMessage } from 'node:http';

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
