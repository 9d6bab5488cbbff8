import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

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
