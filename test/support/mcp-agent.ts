import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** Every tool an agent's `tools/list` names, sorted (README, "Connecting an agent"). */
export const AGENT_TOOLS = [
  'ask_user_question',
  'check_response',
  'create_branch',
  'create_pr',
  'get_next_task',
  'heartbeat',
  'list_my_tasks',
  'release_task',
  'report_progress',
  'trigger_preview',
];

/** A real MCP client over Streamable HTTP, authenticated with an agent's token. */
export async function connectAgent(apiUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: 'aiworker-test-agent', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${apiUrl}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its result (structuredContent, isError and text). */
export async function callTool(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as Array<{ type: string; text?: string }>)?.[0]?.text ?? '';
  return {
    isError: result.isError === true,
    data: result.structuredContent as any,
    text,
    refusal: (result._meta?.['aiworker/error'] ?? null) as {
      code: string;
      retryable: boolean;
    } | null,
  };
}
