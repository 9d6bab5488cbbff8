import type { RequestHandler } from 'express';
import { ForbiddenError } from '../errors';

/**
 * Refuses a request to `/mcp` whose `Host`, or `Origin` when there is one, names a host that is
 * not allowed (`AIWORKER_MCP_ALLOWED_HOSTS`): a web page that rebinds its own name to this
 * machine's address cannot reach the MCP endpoint, and no other site's page may call it. The
 * answer is a JSON-RPC error with 403 (`forbidden`, in `data` like every refusal of `/mcp`),
 * before authentication.
 */
export function allowedHostsOnly(allowed: string[]): RequestHandler {
  const exact = new Set(allowed.filter((h) => hasPort(h)));
  const anyPort = new Set(allowed.filter((h) => !hasPort(h)));
  const isAllowed = (host: string) => {
    const h = host.toLowerCase();
    return exact.has(h) || anyPort.has(withoutPort(h));
  };
  return (req, _res, next) => {
    const host = req.headers.host;
    const origin = req.headers.origin;
    let refusal: string | null = null;
    if (!host || !isAllowed(host)) {
      refusal = `this MCP endpoint does not answer to the host ${host ? `"${host}"` : '(none given)'}`;
    } else if (origin !== undefined) {
      const originHost = hostOf(origin);
      if (originHost === null || !isAllowed(originHost)) {
        refusal = `this MCP endpoint does not accept calls from pages of ${JSON.stringify(origin)}`;
      }
    }
    if (refusal === null) {
      next();
      return;
    }
    next(
      new ForbiddenError(`${refusal}; an operator allows hosts with AIWORKER_MCP_ALLOWED_HOSTS`),
    );
  };
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host);
}

function withoutPort(host: string): string {
  return host.replace(/:\d+$/, '');
}

/** `host[:port]` of an Origin, or null when it is not an http(s) origin (e.g. `null`). */
function hostOf(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : null;
  } catch {
    return null;
  }
}
