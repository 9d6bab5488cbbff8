import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Router } from 'express';
import type { Request } from 'express';
import type { ApiDeps } from '../deps';
import { ApiError, ForbiddenError } from '../errors';
import { createServer } from '../../mcp/server';
import type { RequestId } from '../../mcp/cancellations';
import { AgentWork } from '../../mcp/work';
import { REFUSAL_META_KEY } from '../../mcp/tools/result';
import { currentRequest } from '../../platform/request-context';
import { AIWORKER_VERSION } from '../../platform/version';

/** The agent tools over Streamable HTTP at `/mcp` (stateless: one server per request). */
export function mcpRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/', async (req, res) => {
    const agent = agentOf(req);
    const connection = new AbortController();
    const work = new AgentWork(
      {
        client: deps.temporal.client,
        db: deps.db,
        redis: deps.redis,
        wakeups: deps.wakeups,
        progress: deps.progress,
        publicUrl: deps.publicUrl,
        cancellations: deps.cancellations,
      },
      agent,
      connection.signal,
    );
    // Cancellations reach the call wherever it runs, and give back a task its claim had taken.
    for (const requestId of cancelledRequests(req.body)) await work.cancelled(requestId);
    const logLevel = await deps.mcpLogLevels.get(agent.agentId);
    const server = createServer(work, {
      leaseMs: deps.leaseMs,
      logLevel,
      setLogLevel: (level) => deps.mcpLogLevels.set(agent.agentId, level),
      version: AIWORKER_VERSION,
    });
    // Plain JSON answers, except for a call that asked for progress or an agent that asked for
    // log messages: that answer is a stream of server-sent events carrying the progress
    // notifications and log messages before the result.
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !asksForProgress(req.body) && logLevel === null,
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
    // An answer written in full is delivered; a connection that closed before that was not, and
    // the tasks its calls claimed go back to the backlog.
    res.on('finish', () => work.delivered());
    res.on('close', () => {
      if (!res.writableFinished) {
        connection.abort();
        work
          .giveBackUndelivered()
          .catch((err: unknown) =>
            deps.logger.warn(
              { agentId: agent.agentId, err: (err as Error).message },
              'a task claimed by a call whose connection closed stays assigned until its lease ends',
            ),
          );
      }
      stopListening();
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    logFailuresOnce(transport);
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

/**
 * Logs, with the request id, the failed answers the tools did not log themselves: those the MCP
 * SDK writes on its own (arguments that fail a tool's schema, an unknown tool or method). The
 * tools' own failures carry `_meta["aiworker/error"]` (or an error `data.code`) and were logged
 * where they happened.
 */
function logFailuresOnce(transport: StreamableHTTPServerTransport): void {
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    const answer = message as {
      id?: unknown;
      error?: { code?: unknown; message?: unknown; data?: { code?: unknown } };
      result?: { isError?: unknown; _meta?: Record<string, unknown>; content?: unknown };
    };
    const refusedBySdk =
      answer.result?.isError === true && !answer.result._meta?.[REFUSAL_META_KEY];
    const errorBySdk = answer.error !== undefined && typeof answer.error.data?.code !== 'string';
    if (refusedBySdk || errorBySdk) {
      currentRequest()?.logger.warn(
        {
          jsonrpcId: answer.id,
          code: answer.error?.code ?? 'invalid_call',
          message: answer.error?.message ?? firstText(answer.result?.content),
        },
        'MCP call refused',
      );
    }
    await send(message, options);
  };
}

function firstText(content: unknown): string | undefined {
  const first = Array.isArray(content) ? (content[0] as { text?: unknown } | undefined) : undefined;
  return typeof first?.text === 'string' ? first.text.slice(0, 500) : undefined;
}

/** Whether a POST carries a request with a progress token (`params._meta.progressToken`). */
function asksForProgress(body: unknown): boolean {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const meta = (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return meta?.progressToken !== undefined;
  });
}

/** The request ids that a POST's `notifications/cancelled` messages name. */
function cancelledRequests(body: unknown): RequestId[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.flatMap((m) => {
    const message = m as { method?: unknown; params?: { requestId?: unknown } } | null;
    const id = message?.params?.requestId;
    return message?.method === 'notifications/cancelled' &&
      (typeof id === 'string' || typeof id === 'number')
      ? [id]
      : [];
  });
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
