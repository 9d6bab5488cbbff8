import { Router } from 'express';

/**
 * `GET /api/session`: who is calling (the token's owner, or the person signed in to the board),
 * with `id` and `kind` whatever the principal; clients use it to check a token or a session.
 */
export function sessionRoutes(): Router {
  const router = Router();
  router.get('/session', (req, res) => {
    const principal = req.principal!;
    const id =
      principal.kind === 'admin'
        ? 'admin'
        : principal.kind === 'user'
          ? principal.userId
          : principal.agentId;
    res.json({ principal: { ...principal, id } });
  });
  return router;
}
