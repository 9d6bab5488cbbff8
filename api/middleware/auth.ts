import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { UnauthorizedError } from '../errors';

/** Who is calling. Agents join in with their own tokens (see SPEC.md, "People and their tokens"). */
export type Principal = { kind: 'admin' };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Resolves a bearer token to a principal, in constant time for the admin token. */
export function createAuthenticator(adminToken: string) {
  const admin = digest(adminToken);
  return (token: string | undefined): Principal | undefined => {
    if (!token) return undefined;
    return timingSafeEqual(digest(token), admin) ? { kind: 'admin' } : undefined;
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
  return (req: Request, _res: Response, next: NextFunction) => {
    const principal = authenticate(bearerToken(req.headers.authorization));
    if (!principal) {
      next(new UnauthorizedError());
      return;
    }
    req.principal = principal;
    next();
  };
}
