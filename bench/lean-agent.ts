import http from 'node:http';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { REFUSAL_META_KEY } from '../mcp/tools/result';

/** What a tool call answered: as `callTool` in test/support/mcp-agent.ts reads it. */
export interface ToolAnswer {
  isError: boolean;
  data: any;
  text: string;
  /** A failure the agent may call again for (`_meta["aiworker/error"].retryable`). */
  retryable: boolean;
}

/**
 * The benchmark's agent: MCP over Streamable HTTP with nothing but `node:http` and a kept-alive
 * connection. It sends what any MCP client sends (`initialize`, `notifications/initialized`,
 * then `tools/call` and `ping` requests with the protocol version header) and reads the plain
 * JSON answers the endpoint gives a call that asks for no progress.
 *
 * The agents a benchmark simulates run on the machine being measured, where real agents do not:
 * a client that costs little leaves the machine to what is measured. `bench:claims` prices the
 * MCP SDK's own client next to it, so what this choice changes is printed with the figures.
 */
export class LeanAgent {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private nextId = 1;

  private constructor(
    private readonly url: URL,
    private readonly token: string,
  ) {}

  /** Connects as an MCP client would: the initialize handshake, then the initialized notice. */
  static async connect(apiUrl: string, token: string): Promise<LeanAgent> {
    const agent = new LeanAgent(new URL(`${apiUrl}/mcp`), token);
    const init = await agent.request('initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'aiworker-bench-agent', version: '0.0.0' },
    });
    if (init.protocolVersion !== LATEST_PROTOCOL_VERSION) {
      throw new Error(`the server speaks MCP ${String(init.protocolVersion)}`);
    }
    const { status } = await agent.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (status !== 202) throw new Error(`notifications/initialized answered ${status}`);
    return agent;
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
    const result = await this.request('tools/call', { name, arguments: args });
    return {
      isError: result.isError === true,
      data: result.structuredContent,
      text: result.content?.[0]?.text ?? '',
      retryable: result._meta?.[REFUSAL_META_KEY]?.retryable === true,
    };
  }

  async ping(): Promise<void> {
    await this.request('ping', {});
  }

  close(): void {
    this.agent.destroy();
  }

  /** One JSON-RPC request; its result, or an Error carrying the JSON-RPC error. */
  private async request(method: string, params: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    const { status, body } = await this.post({ jsonrpc: '2.0', id, method, params });
    const answer = body ? JSON.parse(body) : null;
    if (answer?.id !== id || answer.error || answer.result === undefined) {
      throw new Error(`${method} answered ${status}: ${body}`);
    }
    return answer.result;
  }

  /**
   * Sends one message. A kept-alive connection that the API closed as idle just as the message
   * left on it is reset before the API read anything (Node's HTTP server ends idle connections
   * after 5 s): that message is sent once more on a new connection, as Node's documentation
   * advises for `reusedSocket`. Any other failure is the caller's.
   */
  private async post(message: object): Promise<{ status: number; body: string }> {
    try {
      return await this.postOnce(message);
    } catch (err) {
      if (!(err instanceof StaleConnection)) throw err;
      return await this.postOnce(message);
    }
  }

  private postOnce(message: object): Promise<{ status: number; body: string }> {
    const payload = JSON.stringify(message);
    return new Promise((resolve, reject) => {
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleConnection(err) : err),
      );
      req.end(payload);
    });
  }
}

/** A kept-alive connection reset by the server before it answered (see `LeanAgent.post`). */
class StaleConnection extends Error {
  constructor(override readonly cause: Error) {
    super(`a kept-alive connection was reset: ${cause.message}`);
  }
}
