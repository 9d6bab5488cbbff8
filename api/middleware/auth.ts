import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { AgentRecord } from '../../contracts/agent';
import { ForbiddenError, UnauthorizedError } from '../errors';

/** Who is calling: the admin (a person, `AIWORKER_ADMIN_TOKEN`) or a registered agent. */
export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'agent';
      agentId: string;
      name: string;
      /** empty: every project */ projectIds: string[];
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

/** How long a resolved agent token is remembered in this process. */
const AGENT_CACHE_MS = 30_000;

/**
 * Resolves a bearer token to a principal: the admin token in constant time, agent tokens by the
 * hash stored at registration (`lookupAgent`), remembered briefly so every request is not a query.
 */
export function createAuthenticator(
  adminToken: string,
  lookupAgent: (hash: string) => Promise<AgentRecord | undefined>,
) {
  const admin = Buffer.from(tokenHash(adminToken), 'hex');
  const agents = new Map<string, { principal: Principal; until: number }>();
  return async (token: string | undefined): Promise<Principal | undefined> => {
    if (!token) return undefined;
    const hash = tokenHash(token);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), admin)) return { kind: 'admin' };
    const remembered = agents.get(hash);
    if (remembered && remembered.until > Date.now()) return remembered.principal;
    const agent = await lookupAgent(hash);
    if (!agent) return undefined;
    const principal: Principal = {
      kind: 'agent',
      agentId: agent.id,
      name: agent.name,
      projectIds: agent.projectIds,
    };
    agents.set(hash, { principal, until: Date.now() + AGENT_CACHE_MS });
    return principal;
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

/** The token in `Authorization: Bearer <token>`, if the header has that form. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Rejects the request with 401 unless it carries a token that resolves to a principal. */
export function requireAuth(authenticate: Authenticator) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const principal = await authenticate(bearerToken(req.headers.authorization));
    if (!principal) throw new UnauthorizedError();
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
    principal.projectIds.length === 0 ||
    principal.projectIds.includes(projectId)
  );
}
