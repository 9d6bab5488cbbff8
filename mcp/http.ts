import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Router } from 'express';
import type { Request } from 'express';
import type { ApiDeps } from '../api/app';
import { ApiError, ForbiddenError } from '../api/errors';
import { createServer } from './server';
import { AgentWork } from './work';

/** The agent tools over Streamable HTTP at `/mcp` (stateless: one server per request). */
export function mcpRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/', async (req, res) => {
    const agent = agentOf(req);
    const work = new AgentWork(
      {
        client: deps.temporal.client,
        db: deps.db,
        redis: deps.redis,
        wakeups: deps.wakeups,
        progress: deps.progress,
        publicUrl: deps.publicUrl,
      },
      agent,
    );
    const server = createServer(work);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    // A revoked or rotated token ends the agent's open calls here, wherever they wait.
    const stopListening = deps.credentialChanges.onChange((agentId) => {
      if (agentId !== agent.agentId) return;
      void transport.close();
      if (!res.headersSent) {
        res.status(401).json({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32001, message: 'this agent token was revoked or replaced' },
        });
      } else {
        res.destroy();
      }
    });
    res.on('close', () => {
      stopListening();
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  router.all('/', () => {
    throw new ApiError(
      405,
      'method_not_allowed',
      'this MCP endpoint is stateless: send JSON-RPC requests with POST',
    );
  });
  return router;
}

function agentOf(req: Request) {
  const principal = req.principal;
  if (principal?.kind !== 'agent') {
    throw new ForbiddenError(
      'MCP tools act as an agent: register one with POST /api/agents and use its token',
    );
  }
  return { agentId: principal.agentId, name: principal.name, projectIds: principal.projectIds };
}
