import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parse as parseCookies, serialize } from 'cookie';
import type { UserRecord } from '../../contracts/user';

/** The board's session cookie. */
export const SESSION_COOKIE = 'aiworker_session';
/** A session lasts this long from sign-in; signing in again starts a new one. */
export const SESSION_TTL_SECONDS = 7 * 86_400;
/** How long a person's account is remembered by a process (role, memberships). */
export const USER_CACHE_MS = 1_000;

const sessionKey = (sid: string) => `session:${createHash('sha256').update(sid).digest('hex')}`;
const userSessionsKey = (userId: string) => `user-sessions:${userId}`;

/**
 * Sessions of people signed in to the board, in Redis so that any API process serves them. The
 * cookie holds a random id; Redis holds only its hash, with the person's id. Signing out deletes
 * the session, so it ends on every process at once; disabling an account deletes all of its.
 */
export class SessionStore {
  constructor(private readonly redis: Redis) {}

  async create(userId: string): Promise<string> {
    const sid = randomBytes(32).toString('base64url');
    const key = sessionKey(sid);
    await this.redis
      .multi()
      .set(key, userId, 'EX', SESSION_TTL_SECONDS)
      .sadd(userSessionsKey(userId), key)
      .expire(userSessionsKey(userId), SESSION_TTL_SECONDS)
      .exec();
    return sid;
  }

  /** The person a session belongs to, while it lasts. */
  async userOf(sid: string): Promise<string | undefined> {
    return (await this.redis.get(sessionKey(sid))) ?? undefined;
  }

  async end(sid: string): Promise<void> {
    const key = sessionKey(sid);
    const userId = await this.redis.get(key);
    const tx = this.redis.multi().del(key);
    if (userId) tx.srem(userSessionsKey(userId), key);
    await tx.exec();
  }

  /** Ends every session of a person (their account was disabled). */
  async endAll(userId: string): Promise<void> {
    const keys = await this.redis.smembers(userSessionsKey(userId));
    await this.redis.del(...keys, userSessionsKey(userId));
  }
}

/** The session id in a request's cookies, if any. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  const sid = parseCookies(cookieHeader)[SESSION_COOKIE];
  return sid && /^[A-Za-z0-9_-]{20,100}$/.test(sid) ? sid : undefined;
}

/** Whether cookies must be `Secure`: the board is served over https. */
function secureCookies(publicUrl: string): boolean {
  return publicUrl.startsWith('https:');
}

/** `Set-Cookie` for one of the API's cookies: httpOnly and SameSite=Lax, always. */
export function cookieHeader(
  name: string,
  value: string,
  opts: { publicUrl: string; maxAge: number; path?: string },
): string {
  return serialize(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(opts.publicUrl),
    path: opts.path ?? '/',
    maxAge: opts.maxAge,
  });
}

/** `Set-Cookie` for a new session. */
export function sessionCookie(sid: string, publicUrl: string): string {
  return cookieHeader(SESSION_COOKIE, sid, { publicUrl, maxAge: SESSION_TTL_SECONDS });
}

/** `Set-Cookie` that removes the session cookie. */
export function clearedSessionCookie(publicUrl: string): string {
  return cookieHeader(SESSION_COOKIE, '', { publicUrl, maxAge: 0 });
}

/**
 * Resolves a person's id to their current account, remembered for a second (like agent tokens)
 * so a busy board is not a query per request; `forget` drops what it remembers of a person.
 */
export function createUserResolver(lookup: (userId: string) => Promise<UserRecord | undefined>) {
  const users = new Map<string, { user: UserRecord | undefined; until: number }>();
  let forgotten = 0;
  const resolve = async (userId: string): Promise<UserRecord | undefined> => {
    const remembered = users.get(userId);
    if (remembered && remembered.until > Date.now()) return remembered.user;
    const generation = forgotten;
    const user = await lookup(userId);
    if (generation === forgotten) {
      if (users.size >= 10_000) users.delete(users.keys().next().value!);
      users.set(userId, { user, until: Date.now() + USER_CACHE_MS });
    }
    return user;
  };
  return Object.assign(resolve, {
    forget(userId: string) {
      forgotten += 1;
      users.delete(userId);
    },
  });
}
export type UserResolver = ReturnType<typeof createUserResolver>;
