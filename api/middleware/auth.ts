import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ADMIN_ACTOR, agentActor } from '../../contracts/actor';
import type { Actor } from '../../contracts/actor';
import { ALL_PROJECTS } from '../../contracts/agent';
import type { AgentRecord } from '../../contracts/agent';
import type { PersonalTokenRecord, UserRecord, UserRole } from '../../contracts/user';
import type { SessionStore, UserResolver } from '../people/sessions';
import { sessionIdOf } from '../people/sessions';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors';
import { clientAddress } from './limits';
import type { RequestLimits } from './limits';

/**
 * Who is calling: the operator (`AIWORKER_ADMIN_TOKEN`, the break-glass credential), a person
 * signed in to the board (`user`, with their role and memberships), or a registered agent.
 */
export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'user';
      userId: string;
      name: string;
      email: string;
      role: UserRole;
      /** The projects they belong to (an admin's role reaches every project regardless). */
      projectIds: string[];
      /** Signed in through the session cookie (then state changes need the board's Origin). */
      viaCookie: boolean;
    }
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

/**
 * Resolves a token to a principal, or to nothing; `forget` drops what it remembers of an agent,
 * `forgetPerson` of a person's tokens.
 */
export interface Authenticator {
  (token: string | undefined): Promise<Principal | undefined>;
  forget(agentId: string): void;
  forgetPerson(userId: string): void;
}

/** How people's personal tokens begin (agent tokens begin with `aw_`). */
export const PERSONAL_TOKEN_PREFIX = 'awp_';

/** A personal token that works, with its person. */
export interface PersonalTokenOwner {
  token: PersonalTokenRecord;
  user: UserRecord;
}

/**
 * What a personal token may do: what its person may, or, when the token is limited to some
 * projects, only those of them, as a member at most (a limited token of an administrator
 * manages no people and no agents) and as a viewer when its person is one.
 */
export function personalPrincipal({ token, user }: PersonalTokenOwner): Principal {
  const base = { kind: 'user' as const, userId: user.id, name: user.name, email: user.email };
  if (!token.projectIds) {
    return { ...base, role: user.role, projectIds: user.projectIds, viaCookie: false };
  }
  const reach =
    user.role === 'admin'
      ? token.projectIds
      : token.projectIds.filter((id) => user.projectIds.includes(id));
  return {
    ...base,
    role: user.role === 'viewer' ? 'viewer' : 'member',
    projectIds: reach,
    viaCookie: false,
  };
}

/**
 * Resolves a bearer token to a principal: the admin token in constant time; agent tokens and
 * people's personal tokens (`awp_…`) by the hash stored when they were made (the lookups answer
 * only tokens neither revoked nor expired), remembered for a second so a busy client's requests
 * are not a query each.
 */
export function createAuthenticator(
  adminToken: string,
  lookupAgent: (hash: string) => Promise<AgentRecord | undefined>,
  lookupPersonal: (hash: string) => Promise<PersonalTokenOwner | undefined> = () =>
    Promise.resolve(undefined),
): Authenticator {
  const admin = Buffer.from(tokenHash(adminToken), 'hex');
  const agents = new Map<string, { principal: Principal; until: number }>();
  /** Lookups under way, shared by the requests that carry the same token meanwhile. */
  const lookups = new Map<string, Promise<Principal | undefined>>();
  /** Bumped by `forget`: a lookup that started before it must not be remembered. */
  let forgotten = 0;
  const resolve = async (hash: string, personal: boolean): Promise<Principal | undefined> => {
    const generation = forgotten;
    let principal: Principal;
    let expiresAt: string | null;
    if (personal) {
      const owner = await lookupPersonal(hash);
      if (!owner) return undefined;
      principal = personalPrincipal(owner);
      expiresAt = owner.token.expiresAt;
    } else {
      const agent = await lookupAgent(hash);
      if (!agent) return undefined;
      principal = {
        kind: 'agent',
        agentId: agent.id,
        name: agent.name,
        projectIds: agent.projectIds,
      };
      expiresAt = agent.expiresAt;
    }
    if (generation !== forgotten) return principal;
    const expires = expiresAt ? Date.parse(expiresAt) : Infinity;
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
      const started = resolve(hash, token.startsWith(PERSONAL_TOKEN_PREFIX)).finally(() => {
        if (lookups.get(hash) === started) lookups.delete(hash);
      });
      lookups.set(hash, started);
      lookup = started;
    }
    return lookup;
  };
  const drop = (matches: (p: Principal) => boolean) => {
    forgotten += 1;
    lookups.clear();
    for (const [hash, entry] of agents) if (matches(entry.principal)) agents.delete(hash);
  };
  return Object.assign(authenticate, {
    forget(agentId: string) {
      drop((p) => p.kind === 'agent' && p.agentId === agentId);
    },
    forgetPerson(userId: string) {
      drop((p) => p.kind === 'user' && p.userId === userId);
    },
  });
}

/** The token in `Authorization: Bearer <token>`, if the header has that form. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** What resolves a person's board session to their account. */
export interface PeopleAuth {
  sessions: SessionStore;
  users: UserResolver;
  /**
   * Origins the board is served from, given the Host a request was addressed to and whether it
   * came over https: a cookie-borne change must come from one of them.
   */
  boardOrigins: (host: string | undefined, secure: boolean) => string[];
  /**
   * The host local previews are served at (null with Kubernetes previews): a session cookie
   * sent there counts for nothing, as signing in there is refused (`refuseSessionAtPreviewHost`).
   */
  previewHost: string | null;
}

/** Whether a request addressed to `host` (its `Host` header) reached the previews' host. */
export function atPreviewHost(people: PeopleAuth, host: string | undefined): boolean {
  if (people.previewHost === null || !host) return false;
  try {
    return new URL(`http://${host}`).hostname === people.previewHost;
  } catch {
    return false;
  }
}

/** The signed-in person behind a session cookie, or nothing. */
export async function sessionPrincipal(
  people: PeopleAuth,
  cookieHeader: string | undefined,
  host: string | undefined,
): Promise<Principal | undefined> {
  // A cookie of a session made there before sign-in was refused at the previews' host.
  if (atPreviewHost(people, host)) return undefined;
  const sid = sessionIdOf(cookieHeader);
  if (!sid) return undefined;
  const userId = await people.sessions.userOf(sid);
  const user = userId ? await people.users(userId) : undefined;
  if (!user || user.disabledAt) return undefined;
  return {
    kind: 'user',
    userId: user.id,
    name: user.name,
    email: user.email,
    role: user.role,
    projectIds: user.projectIds,
    viaCookie: true,
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Rejects the request with 401 unless it carries a token that resolves to a principal, or the
 * session cookie of a signed-in person. An address that keeps failing is refused with 429
 * before its tokens are even looked up. A cookie-borne request that changes something must come
 * from the board's own origin (its `Origin` header), else 403: that is the CSRF defence.
 */
export function requireAuth(
  authenticate: Authenticator,
  limits: RequestLimits,
  people: PeopleAuth,
) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const address = clientAddress(req);
    await limits.checkAddress(address);
    const token = bearerToken(req.headers.authorization);
    let principal = await authenticate(token);
    if (!principal && !token) {
      principal = await sessionPrincipal(people, req.headers.cookie, req.headers.host);
    }
    if (!principal) {
      // Only a token that fails counts: a request without one guesses nothing.
      if (token) await limits.authFailed(address);
      throw new UnauthorizedError();
    }
    if (principal.kind === 'user' && principal.viaCookie && !SAFE_METHODS.has(req.method)) {
      const origin = req.headers.origin;
      if (!origin || !people.boardOrigins(req.headers.host, req.secure).includes(origin)) {
        throw new ForbiddenError(
          "a change made with the board's session must come from the board's own origin " +
            '(the Origin header); scripts use a token in the Authorization header',
        );
      }
    }
    req.principal = principal;
    next();
  };
}

/** Lets only people through (the admin token or a signed-in person): agents use /mcp. */
export function requirePerson(req: Request, _res: Response, next: NextFunction) {
  if (req.principal?.kind === 'agent') {
    throw new ForbiddenError('this route is for people; agents use the MCP endpoint at /mcp');
  }
  next();
}

/** Who a principal is, as actions and events name them (README, "Who did it"). */
export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'admin':
      return ADMIN_ACTOR;
    case 'user':
      return { kind: 'user', id: principal.userId, name: principal.name };
    case 'agent':
      return agentActor(principal.agentId, principal.name);
  }
}

/** Whether the principal may do everything: the operator's token, or a person with the admin role. */
export function isAdministrator(principal: Principal): boolean {
  return principal.kind === 'admin' || (principal.kind === 'user' && principal.role === 'admin');
}

/** Lets only administrators through (managing agents and people, workflow health). */
export function requireAdministrator(req: Request, _res: Response, next: NextFunction) {
  if (!req.principal || !isAdministrator(req.principal)) {
    throw new ForbiddenError('this needs the admin role');
  }
  next();
}

/** What a project nobody may know of answers: the same as a project that does not exist. */
export function projectNotFound(projectId: string): NotFoundError {
  return new NotFoundError(`project ${projectId} does not exist`);
}

/**
 * Refuses a person who may not read (`read`) or change (`work`: create tasks, answer, approve,
 * request changes, cancel, merge) a project. To a person who is not a member the project and all
 * it holds do not exist: they get `hidden()`, what an unknown id of the route answers (404
 * `project … does not exist` unless told), so no answer tells them a foreign id is real. A member
 * who lacks the role is told so (403): that reveals nothing they did not know.
 */
export function requireProjectAccess(
  principal: Principal,
  projectId: string,
  need: 'read' | 'work',
  hidden: () => Error = () => projectNotFound(projectId),
): void {
  if (isAdministrator(principal)) return;
  if (principal.kind === 'agent') {
    throw new ForbiddenError('this route is for people; agents use the MCP endpoint at /mcp');
  }
  if (principal.kind !== 'user') return;
  if (!principal.projectIds.includes(projectId)) throw hidden();
  if (need === 'work' && principal.role === 'viewer') {
    throw new ForbiddenError(
      `viewers may only read project ${projectId}: this needs the member role`,
    );
  }
}

/** The projects a principal may read, or `"*"` for all of them. */
export function readableProjects(principal: Principal): string[] | typeof ALL_PROJECTS {
  if (isAdministrator(principal)) return ALL_PROJECTS;
  if (principal.kind === 'user' || principal.kind === 'agent') return principal.projectIds;
  return ALL_PROJECTS;
}

/** Whether the principal may see a project's tasks and events. */
export function maySeeProject(principal: Principal, projectId: string): boolean {
  const readable = readableProjects(principal);
  return readable === ALL_PROJECTS || readable.includes(projectId);
}

/**
 * Refuses to sign a person in on the host local previews are served at: the session cookie
 * would go to every preview there (browsers send a host's cookies to all its ports), and a
 * preview runs an agent's code.
 */
export function refuseSessionAtPreviewHost(
  req: Request,
  deps: { people: PeopleAuth; publicUrl: string },
): void {
  if (atPreviewHost(deps.people, req.headers.host)) {
    throw new ForbiddenError(
      `sign in at ${deps.publicUrl}: ${deps.people.previewHost} serves task previews, which must not receive a session`,
    );
  }
}
