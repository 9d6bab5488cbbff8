import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { Router } from 'express';
import type { Request } from 'express';
import type { ApiDeps } from '../deps';
import { ApiError, ForbiddenError, UnauthorizedError } from '../errors';
import { answerMcpRefusal } from '../middleware/errors';
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
    refuseUnservableHeaders(req);
    const malformed = malformedMessage(req.body);
    if (malformed) {
      const requestId = currentRequest()?.requestId;
      const { jsonrpc, code, message } = malformed;
      currentRequest()?.logger.warn({ code }, 'MCP call refused');
      res.status(400).json({
        jsonrpc: '2.0',
        id: null,
        error: { code: jsonrpc, message, data: { code, message, retryable: false, requestId } },
      });
      return;
    }
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
    const callRequestId = currentRequest()?.requestId;
    const stopListening = deps.credentialChanges.onChange((agentId) => {
      if (agentId !== agent.agentId) return;
      void transport.close();
      if (!res.headersSent) {
        answerMcpRefusal(
          res,
          new UnauthorizedError('this agent token was revoked or replaced'),
          callRequestId,
        );
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
    answerSdkFailures(transport, unreadableUris(req.body));
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
 * Refuses, in aiworker's words and shape, the headers the MCP SDK would refuse with its own
 * text: an `Accept` without both answer types the transport may use, and an
 * `MCP-Protocol-Version` the SDK does not speak.
 */
function refuseUnservableHeaders(req: Request): void {
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    throw new ApiError(
      406,
      'not_acceptable',
      'send Accept: application/json, text/event-stream (an answer is JSON, or a stream of events when it carries progress)',
    );
  }
  // An initialization negotiates its version in its body; the header counts on the calls after it.
  const messages: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
  const initializing = messages.some(
    (m) => (m as { method?: unknown } | null | undefined)?.method === 'initialize',
  );
  const version = req.headers['mcp-protocol-version'];
  if (
    !initializing &&
    typeof version === 'string' &&
    !SUPPORTED_PROTOCOL_VERSIONS.includes(version)
  ) {
    throw new ApiError(
      400,
      'validation_failed',
      `MCP-Protocol-Version ${JSON.stringify(version.slice(0, 40))} is not one this server speaks (${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
}

/**
 * The failed answers the tools did not make themselves: those the MCP SDK writes on its own
 * (arguments that fail a tool's schema, an unknown tool, prompt, resource or method). Each gets
 * aiworker's stable code, as the tools' own failures have (`_meta["aiworker/error"]` on a tool
 * result, `data` on a JSON-RPC error), and is logged once with the request id. The tools' own
 * failures carry that code already and were logged where they happened.
 */
function answerSdkFailures(
  transport: StreamableHTTPServerTransport,
  notUrls: Set<RequestId>,
): void {
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    const answer = message as {
      id?: unknown;
      error?: { code?: unknown; message?: unknown; data?: unknown };
      result?: { isError?: unknown; _meta?: Record<string, unknown>; content?: unknown };
    };
    const request = currentRequest();
    const requestId = request?.requestId;
    if (answer.result?.isError === true && !answer.result._meta?.[REFUSAL_META_KEY]) {
      const fullText = firstText(answer.result.content) ?? '';
      const sdkText = fullText.slice(0, 500);
      const failure = sdkToolFailure(fullText, requestId);
      answer.result.content = [{ type: 'text', text: failure.message }];
      answer.result._meta = {
        ...answer.result._meta,
        [REFUSAL_META_KEY]: {
          code: failure.code,
          message: failure.message,
          retryable: false,
          ...(requestId ? { requestId } : {}),
        },
      };
      const line = { jsonrpcId: answer.id, code: failure.code, sdkText };
      // Our own fault (a result that broke its own schema): logged as one.
      if (failure.ours) request?.logger.error(line, 'MCP call failed: unhandled error');
      else request?.logger.warn(line, 'MCP call refused');
    } else if (answer.error && hasOurCode(answer.error.data)) {
      // The SDK prefixes an error's message with its own "MCP error <code>: ": the plain one
      // made with the code is in `data`.
      const plain = (answer.error.data as { message?: unknown }).message;
      answer.error.message =
        typeof plain === 'string'
          ? plain
          : String(answer.error.message).replace(/^MCP error -?\d+: /, '');
    } else if (answer.error && !hasOurCode(answer.error.data)) {
      // Params that fail the SDK's own schema of a method come as an internal error whose
      // message is zod's list of issues: they are the caller's mistake.
      const issues = zodIssues(answer.error.message);
      if (issues) {
        answer.error.code = -32602;
        answer.error.message = `invalid params: ${issues}`;
      } else if (notUrls.has(answer.id as RequestId)) {
        // The SDK fails on a uri that is not a URL as on an error of its own.
        answer.error.code = -32602;
        answer.error.message = 'params.uri: expected a URL, such as aiworker://tasks/{id}';
      }
      const code = JSONRPC_CODES[Number(answer.error.code)] ?? 'invalid_call';
      const message = String(answer.error.message).slice(0, 500);
      answer.error.data = { code, message, retryable: false, ...(requestId ? { requestId } : {}) };
      const line = { jsonrpcId: answer.id, code, message };
      if (code === 'internal') request?.logger.error(line, 'MCP call failed: unhandled error');
      else request?.logger.warn(line, 'MCP call refused');
    }
    await send(message, options);
  };
}

/** Our codes for the JSON-RPC errors the MCP SDK answers with. */
const JSONRPC_CODES: Record<number, string> = {
  [-32700]: 'invalid_json',
  [-32600]: 'invalid_request',
  [-32601]: 'unknown_method',
  [-32602]: 'invalid_arguments',
  [-32603]: 'internal',
};

function hasOurCode(data: unknown): boolean {
  return typeof (data as { code?: unknown } | null | undefined)?.code === 'string';
}

/**
 * What a tool call the SDK failed is told: its arguments failed the tool's schema (the SDK's
 * description of the fields, without its prefixes), or no such tool exists; anything else the
 * SDK failed (a result that broke the tool's own output schema) is aiworker's fault (`ours`).
 */
function sdkToolFailure(
  text: string,
  requestId: string | undefined,
): { code: string; message: string; ours: boolean } {
  const unknown = /^(?:MCP error -?\d+: )?Tool (\S+) (?:not found|disabled)$/.exec(text);
  if (unknown) {
    const name = unknown[1]!.length > 100 ? `${unknown[1]!.slice(0, 100)}…` : unknown[1];
    return {
      code: 'unknown_tool',
      message: `there is no tool ${name}; tools/list names them all`,
      ours: false,
    };
  }
  const invalid =
    /^(?:MCP error -?\d+: )?(?:Input validation error: )?Invalid arguments for tool (\S+): ([\s\S]*)$/.exec(
      text,
    );
  if (invalid) {
    return {
      code: 'invalid_arguments',
      message: `invalid arguments for ${invalid[1]}: ${(invalid[2] ?? '').slice(0, 500)}`,
      ours: false,
    };
  }
  return {
    code: 'internal',
    message: `internal error; the server logged it${requestId ? ` as request ${requestId}` : ''}`,
    ours: true,
  };
}

function firstText(content: unknown): string | undefined {
  const first = Array.isArray(content) ? (content[0] as { text?: unknown } | undefined) : undefined;
  return typeof first?.text === 'string' ? first.text : undefined;
}

/** The issues of a zod error's message (a JSON list), as `path: message; …`; else undefined. */
function zodIssues(message: unknown): string | undefined {
  if (typeof message !== 'string' || !message.startsWith('[')) return undefined;
  try {
    const issues = JSON.parse(message) as Array<{ path?: unknown; message?: unknown }>;
    if (!Array.isArray(issues) || !issues.every((i) => Array.isArray(i?.path))) return undefined;
    return issues
      .map((i) => `${(i.path as unknown[]).join('.') || 'params'}: ${String(i.message)}`)
      .join('; ');
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with a POST's messages before the SDK sees them: one that is no JSON-RPC 2.0
 * message (the SDK's transport would answer with no code of ours).
 */
function malformedMessage(
  body: unknown,
): { code: string; message: string; jsonrpc: number } | undefined {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  for (const m of messages) {
    if (!JSONRPCMessageSchema.safeParse(m).success) {
      return {
        code: 'invalid_request',
        message: 'expected JSON-RPC 2.0 messages: {"jsonrpc":"2.0","id":…,"method":…,"params":{…}}',
        jsonrpc: -32600,
      };
    }
  }
  return undefined;
}

/** Whether a POST carries a request with a progress token (`params._meta.progressToken`). */
function asksForProgress(body: unknown): boolean {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const meta = (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return meta?.progressToken !== undefined;
  });
}

/** The ids of a POST's `resources/read` requests whose uri is not a URL. */
function unreadableUris(body: unknown): Set<RequestId> {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  const ids = messages.flatMap((m) => {
    const read = m as { id?: RequestId; method?: unknown; params?: { uri?: unknown } };
    const uri = read.params?.uri;
    return read.method === 'resources/read' && typeof uri === 'string' && !URL.canParse(uri)
      ? [read.id!]
      : [];
  });
  return new Set(ids);
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
