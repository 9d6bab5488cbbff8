import { Router } from 'express';

/** `GET /api/session`: who the token belongs to; clients use it to check a token at sign-in. */
export function sessionRoutes(): Router {
  const router = Router();
  router.get('/session', (req, res) => {
    res.json({ principal: req.principal });
  });
  return router;
}
