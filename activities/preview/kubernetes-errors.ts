/**
 * How answers of the Kubernetes API become errors a preview activity can act on: a refusal
 * retrying will not fix is `PreviewFailed` (the activity gives up and the board shows why);
 * anything that may pass (network, 5xx, 429, a conflicting write, an object deleted meanwhile, a
 * namespace still being deleted) is `KubernetesTransient`, which Temporal retries.
 */
import { PreviewFailed } from './runtime';

/** Thrown by the Kubernetes preview runtime when a call failed for a reason that may pass. */
export class KubernetesTransient extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubernetesTransient';
  }
}

/** The `Status` object the API server sends with every error (`kind: Status`). */
export interface KubeStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string }[] };
}

/** What the runtime was doing when a call failed, for messages that name the permission. */
export interface KubeCall {
  verb: 'create' | 'get' | 'list' | 'patch' | 'delete';
  /** The resource with its group, as RBAC spells it (`deployments.apps`, `namespaces`). */
  resource: string;
  namespace?: string;
}

/**
 * The HTTP status of a failed client call, or undefined when the call never got an answer.
 * Duck-typed: the client's `ApiException` carries `code` and the raw `body`.
 */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The `Status` body of a failed call, when the server sent one. */
export function statusBody(err: unknown): KubeStatus | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  if (body && typeof body === 'object') return body;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function where(call: KubeCall): string {
  return call.namespace ? ` in namespace ${call.namespace}` : '';
}

/** Turns a failed client call into `PreviewFailed` or `KubernetesTransient`. */
export function translateError(err: unknown, call: KubeCall): Error {
  const code = statusCode(err);
  const status = statusBody(err);
  const said = status?.message ? `: ${status.message}` : '';
  const what = `${call.verb} ${call.resource}${where(call)}`;
  if (code === undefined) {
    const reason = err instanceof Error ? err.message : String(err);
    return new KubernetesTransient(`Kubernetes API unreachable (${what}): ${reason}`, {
      cause: err,
    });
  }
  if (code === 403) {
    // Creating anything in a namespace that is still being deleted is answered 403 too; that
    // one passes once the deletion finishes.
    const terminating =
      status?.details?.causes?.some((c) => c.reason === 'NamespaceTerminating') ??
      /being terminated/.test(status?.message ?? '');
    if (terminating) {
      return new KubernetesTransient(`namespace is still being deleted (${what})${said}`);
    }
    const [plural = call.resource, group = ''] = call.resource.split(/\.(.*)/);
    return new PreviewFailed(
      `Kubernetes refused to ${what}: the worker's service account needs "${call.verb}" on ` +
        `"${plural}" (API group "${group}"), see k8s/rbac.yaml${said}`,
    );
  }
  if (code === 401) {
    return new PreviewFailed(`Kubernetes rejected the worker's credentials (${what})${said}`);
  }
  // 404 and 409 reach here only where the caller did not expect them: a teardown racing this
  // deploy, or a write that lost an optimistic-concurrency race. A new attempt starts over.
  if (code === 404 || code === 409 || code === 429 || code >= 500) {
    return new KubernetesTransient(`Kubernetes API answered ${code} (${what})${said}`);
  }
  return new PreviewFailed(`Kubernetes API answered ${code} to ${what}${said}`);
}

/** Runs one API call, translating its failure; `allow` lists codes the caller handles itself. */
export async function kubeCall<T>(
  call: KubeCall,
  run: () => Promise<T>,
  allow: number[] = [],
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // Already decided (a nested call, or the caller's own check).
    if (err instanceof PreviewFailed || err instanceof KubernetesTransient) throw err;
    const code = statusCode(err);
    if (code !== undefined && allow.includes(code)) throw err;
    throw translateError(err, call);
  }
}
