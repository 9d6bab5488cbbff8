// `aiworker-mcp` (`npm run mcp:stdio`): the agent tools over stdio, for MCP clients that launch a
// command instead of calling /mcp. It is a relay, not a second MCP server: it serves MCP on
// stdin/stdout and forwards every tool call, as an MCP client, to the API's Streamable HTTP
// endpoint `${AIWORKER_URL}/mcp` with the agent's token (AIWORKER_AGENT_TOKEN) as a bearer token.
// Why: whatever launches this command (an agent's MCP configuration) should hold no more than the
// agent's own token. Talking to Temporal, MariaDB and Redis directly would need their credentials,
// which bypass authentication altogether; through the API, the agent gets exactly what /mcp allows.
// The tools are the API's (listed once at start), so the local server is the low-level `Server`
// with raw handlers that relay tools, resources, prompts, completions and log levels. stdout
// carries the protocol: every log line goes to stderr.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  CompleteRequestSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListPromptsResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesRequestSchema,
  ListResourceTemplatesResultSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Progress, ServerNotification, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import pino from 'pino';
import type { Config } from '../platform/config';
import { createLogger } from '../platform/logger';

const DEFAULT_URL = 'http://127.0.0.1:3000';
/** How long start-up may wait for the API to answer before calling it unreachable. */
const START_TIMEOUT_MS = 15_000;
/**
 * How long a forwarded call may go without a word from the API. A call that came with a progress
 * token goes up with one, so the API sends progress every 10 s while it works
 * (mcp/tools/keep-informed.ts) and each resets this: it may take as long as it needs while the API
 * is alive. A call without one is kept by the API within the SDK's default 60 s.
 */
const CALL_TIMEOUT_MS = 60_000;

function fail(message: string): never {
  process.stderr.write(`aiworker-mcp: ${message}\n`);
  process.exit(1);
}

/** One line saying why start-up could not talk to the API; never includes the token. */
function startFailure(err: unknown, endpoint: string, token: string): string {
  if (err instanceof StreamableHTTPError && err.code === 401) {
    return `the API at ${endpoint} refused AIWORKER_AGENT_TOKEN (401): it does not belong to a registered agent`;
  }
  if (err instanceof StreamableHTTPError && err.code === 403) {
    return `the API at ${endpoint} refused AIWORKER_AGENT_TOKEN (403): it is not an agent's token (register one with POST /api/agents)`;
  }
  if (err instanceof StreamableHTTPError) {
    return `the API at ${endpoint} answered ${err.code ?? 'an error'}; is AIWORKER_URL the aiworker API?`;
  }
  if (err instanceof McpError && err.code === (ErrorCode.RequestTimeout as number)) {
    return `cannot reach the aiworker API at ${endpoint} (no answer in ${START_TIMEOUT_MS / 1000} s); is it running?`;
  }
  const cause = err instanceof Error ? (err.cause as Error & { code?: string }) : undefined;
  // A malformed token can end up in fetch's own message (an invalid header value).
  const reason = (
    cause?.code ??
    cause?.message ??
    (err instanceof Error ? err.message : String(err))
  )
    .split(token)
    .join('[AIWORKER_AGENT_TOKEN]');
  return `cannot reach the aiworker API at ${endpoint} (${reason}); start it (npm start) or set AIWORKER_URL`;
}

async function listAllTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined, {
      timeout: START_TIMEOUT_MS,
    });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** LOG_LEVEL if pino knows it: the API's other settings are none of this process's business. */
function logLevel(): Config['logLevel'] {
  const level = process.env.LOG_LEVEL ?? 'info';
  return level === 'silent' || level in pino.levels.values ? (level as Config['logLevel']) : 'info';
}

async function main(): Promise<void> {
  const logger = createLogger({ logLevel: logLevel() }, pino.destination(2)).child({
    scope: 'mcp.stdio',
  });
  const token = process.env.AIWORKER_AGENT_TOKEN;
  if (!token) fail('set AIWORKER_AGENT_TOKEN to the token an agent got from POST /api/agents');
  if (/\s/.test(token)) fail('AIWORKER_AGENT_TOKEN contains whitespace; copy the token exactly');
  let endpoint: URL;
  try {
    endpoint = new URL(`${(process.env.AIWORKER_URL || DEFAULT_URL).replace(/\/+$/, '')}/mcp`);
  } catch {
    fail(`AIWORKER_URL is not a URL (expected something like ${DEFAULT_URL})`);
  }

  const client = new Client({ name: 'aiworker-mcp-stdio', version: '0.1.0' });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(endpoint, {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
      { timeout: START_TIMEOUT_MS },
    );
  } catch (err) {
    fail(startFailure(err, endpoint.href, token));
  }
  let tools: Tool[];
  try {
    tools = await listAllTools(client);
  } catch (err) {
    fail(startFailure(err, endpoint.href, token));
  }

  // Set only now: start-up failures are reported once, by fail().
  client.onerror = (err) =>
    logger.warn({ err: err.message.split(token).join('[AIWORKER_AGENT_TOKEN]') }, 'API error');
  const remote = client.getServerCapabilities() ?? {};
  const server = new Server(client.getServerVersion() ?? { name: 'aiworker', version: '0.1.0' }, {
    capabilities: {
      tools: { listChanged: false },
      ...(remote.resources ? { resources: { listChanged: false, subscribe: false } } : {}),
      ...(remote.prompts ? { prompts: { listChanged: false } } : {}),
      ...(remote.completions ? { completions: {} } : {}),
      ...(remote.logging ? { logging: {} } : {}),
    },
    instructions: client.getInstructions(),
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  // Each request goes up unchanged and its answer comes back unchanged (request() rather than
  // callTool(), which would check structuredContent against the schema and turn a mismatch into
  // a protocol error here). Cancellation goes up: the aborted signal makes the client send
  // notifications/cancelled to the API. Progress comes down under the token the agent's client
  // gave; a call without one goes up without one, so the API keeps its wait within the SDK's
  // default timeout, as it does for a direct call.
  const relay = <T extends z.ZodType<object>>(
    request: {
      method: string;
      params?: Record<string, unknown> & { _meta?: { progressToken?: string | number } };
    },
    schema: T,
    extra: { signal: AbortSignal; sendNotification: (n: ServerNotification) => Promise<void> },
  ) => {
    const progressToken = request.params?._meta?.progressToken;
    return client.request(request, schema, {
      signal: extra.signal,
      timeout: CALL_TIMEOUT_MS,
      ...(progressToken === undefined
        ? {}
        : {
            resetTimeoutOnProgress: true,
            onprogress: (progress: Progress) => {
              void extra
                .sendNotification({
                  method: 'notifications/progress',
                  params: { ...progress, progressToken },
                })
                .catch(() => undefined);
            },
          }),
    });
  };
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    relay(request, CallToolResultSchema, extra),
  );
  if (remote.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (request, extra) =>
      relay(request, ListResourcesResultSchema, extra),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (request, extra) =>
      relay(request, ListResourceTemplatesResultSchema, extra),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
      relay(request, ReadResourceResultSchema, extra),
    );
  }
  if (remote.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (request, extra) =>
      relay(request, ListPromptsResultSchema, extra),
    );
    server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
      relay(request, GetPromptResultSchema, extra),
    );
  }
  if (remote.completions) {
    server.setRequestHandler(CompleteRequestSchema, (request, extra) =>
      relay(request, CompleteResultSchema, extra),
    );
  }
  if (remote.logging) {
    // The API keeps the agent's level; its log messages come down as they arrive.
    server.setRequestHandler(SetLevelRequestSchema, (request, extra) =>
      relay(request, EmptyResultSchema, extra),
    );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) =>
      server.notification(notification).catch(() => undefined),
    );
  }

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await Promise.allSettled([server.close(), client.close()]);
    process.exit(0);
  };
  const transport = new StdioServerTransport();
  transport.onclose = () => void close();
  process.stdin.on('end', () => void close());
  process.on('SIGINT', () => void close());
  process.on('SIGTERM', () => void close());
  await server.connect(transport);
  logger.info({ api: endpoint.href, tools: tools.length }, 'relaying MCP over stdio to the API');
}

main().catch((err: unknown) =>
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
