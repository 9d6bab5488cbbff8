import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ALL_PROJECTS } from '../../contracts/agent';
import type { AgentRecord } from '../../contracts/agent';
import { ForbiddenError, UnauthorizedError } from '../errors';
import { clientAddress } from './limits';
import type { RequestLimits } from './limits';

/** Who is calling: the admin (a person, `AIWORKER_ADMIN_TOKEN`) or a registered agent. */
export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'agent';
      agentId: string;
      name: string;
      /** `"*"`: every project. */
      projectIds: string[] | typeof ALL_PROJECTS;
    };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** sha256 of a token, hex: how agent tokens are stored. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * How long a resolved agent token is remembered in this process: short enough that a revoked,
 * rotated or expired token fails on every process within a second even if the announcement of
 * the change is lost.
 */
export const AGENT_CACHE_MS = 1_000;
/** Most tokens remembered at once; the oldest are dropped first. */
const AGENT_CACHE_SIZE = 10_000;

/** Resolves a token to a principal, or to nothing; `forget` drops what it remembers of an agent. */
export interface Authenticator {
  (token: string | undefined): Promise<Principal | undefined>;
  forget(agentId: string): void;
}

/**
 * Resolves a bearer token to a principal: the admin token in constant time, agent tokens by the
 * hash stored at registration (`lookupAgent`, which answers only tokens neither revoked nor
 * expired), remembered for a second so a busy agent's requests are not a query each.
 */
export function createAuthenticator(
  adminToken: string,
  lookupAgent: (hash: string) => Promise<AgentRecord | undefined>,
): Authenticator {
  const admin = Buffer.from(tokenHash(adminToken), 'hex');
  const agents = new Map<string, { principal: Principal; until: number }>();
  /** Lookups under way, shared by the requests that carry the same token meanwhile. */
  const lookups = new Map<string, Promise<Principal | undefined>>();
  /** Bumped by `forget`: a lookup that started before it must not be remembered. */
  let forgotten = 0;
  const resolve = async (hash: string): Promise<Principal | undefined> => {
    const generation = forgotten;
    const agent = await lookupAgent(hash);
    if (!agent) return undefined;
    const principal: Principal = {
      kind: 'agent',
      agentId: agent.id,
      name: agent.name,
      projectIds: agent.projectIds,
    };
    if (generation !== forgotten) return principal;
    const expires = agent.expiresAt ? Date.parse(agent.expiresAt) : Infinity;
    if (agents.size >= AGENT_CACHE_SIZE) agents.delete(agents.keys().next().value!);
    agents.set(hash, { principal, until: Math.min(Date.now() + AGENT_CACHE_MS, expires) });
    return principal;
  };
  const authenticate = async (token: string | undefined): Promise<Principal | undefined> => {
    if (!token) return undefined;
    const hash = tokenHash(token);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), admin)) return { kind: 'admin' };
    const remembered = agents.get(hash);
    if (remembered && remembered.until > Date.now()) return remembered.principal;
    agents.delete(hash);
    let lookup = lookups.get(hash);
    if (!lookup) {
      const started = resolve(hash).finally(() => {
        if (lookups.get(hash) === started) lookups.delete(hash);
      });
      lookups.set(hash, started);
      lookup = started;
    }
    return lookup;
  };
  return Object.assign(authenticate, {
    forget(agentId: string) {
      forgotten += 1;
      lookups.clear();
      for (const [hash, entry] of agents) {
        if (entry.principal.kind === 'agent' && entry.principal.agentId === agentId) {
          agents.delete(hash);
        }
      }
    },
  });
}

/** The token in `Authorization: Bearer <token>`, if the header has that form. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Rejects the request with 401 unless it carries a token that resolves to a principal. An
 * address that keeps failing is refused with 429 before its tokens are even looked up.
 */
export function requireAuth(authenticate: Authenticator, limits: RequestLimits) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const address = clientAddress(req);
    await limits.checkAddress(address);
    const token = bearerToken(req.headers.authorization);
    const principal = await authenticate(token);
    if (!principal) {
      // Only a token that fails counts: a request without one guesses nothing.
      if (token) await limits.authFailed(address);
      throw new UnauthorizedError();
    }
    req.principal = principal;
    next();
  };
}

/** Lets only people (the admin token) through: agents work through the MCP endpoint. */
export function requireAdmin(req: Request, _res: Response, next: NextFunction) {
  if (req.principal?.kind !== 'admin') {
    throw new ForbiddenError('this route is for people; agents use the MCP endpoint at /mcp');
  }
  next();
}

/** Whether the principal may see a project's tasks and events. */
export function maySeeProject(principal: Principal, projectId: string): boolean {
  return (
    principal.kind === 'admin' ||
    principal.projectIds === ALL_PROJECTS ||
    principal.projectIds.includes(projectId)
  );
}
