import { Router } from 'express';
import { NotImplementedError } from '../api/errors';

/**
 * The Streamable HTTP endpoint for agents. The agent tools (SPEC.md, "MCP") are not in this
 * build yet: the endpoint authenticates and then says so plainly rather than serving an empty
 * tool list that would look like a working server.
 */
export function mcpRoutes(): Router {
  const router = Router();
  router.all('/', (_req, _res, next) => {
    next(new NotImplementedError('the MCP endpoint is not available in this build yet'));
  });
  return router;
}
