import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger';

/** Redis channel on which a cancelled MCP request is announced to every API process. */
export const MCP_CANCEL_CHANNEL = 'aiworker:mcp-cancellations';

/** A JSON-RPC request id, as MCP clients send it. */
export type RequestId = string | number;

/** How long a cancellation is remembered for a call that has not reached its claim yet. */
const CANCELLED_SECONDS = 120;

const callKey = (agentId: string, requestId: RequestId) =>
  `${agentId}:${typeof requestId}:${String(requestId)}`;

/**
 * Cancellation of agents' MCP calls across API processes. Each POST to `/mcp` is served by
 * whichever process the load balancer picks, so `notifications/cancelled` for a call usually
 * arrives at another process than the one holding the call: it is announced on Redis, and the
 * holder aborts the call; it is also remembered for a while, for a call whose claim lands just as
 * the announcement passes (`claimLanded`). A cancellation that arrives after the answer was
 * written changes nothing (the protocol's rule; clients also send one when a call they already
 * got an answer for is aborted): an answer the client dropped is handed over again by the
 * agent's next get_next_task.
 */
export class McpCancellations {
  private readonly calls = new Map<string, AbortController>();
  private readonly subscriber: Redis;

  constructor(
    private readonly redis: Redis,
    logger: Logger,
  ) {
    this.subscriber = redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber
      .subscribe(MCP_CANCEL_CHANNEL)
      .catch((err: Error) => logger.warn({ err: err.message }, 'cancellation subscription failed'));
    this.subscriber.on('message', (_channel: string, message: string) => {
      this.calls.get(message)?.abort();
    });
  }

  /** A call now in this process; its signal aborts when the call is cancelled anywhere. */
  begin(agentId: string, requestId: RequestId): { signal: AbortSignal; end(): void } {
    const key = callKey(agentId, requestId);
    const controller = new AbortController();
    this.calls.set(key, controller);
    return {
      signal: controller.signal,
      end: () => {
        if (this.calls.get(key) === controller) this.calls.delete(key);
      },
    };
  }

  /** How many calls run in this process now (a call ends once its claim is answered or given back). */
  get open(): number {
    return this.calls.size;
  }

  /** The agent cancelled a call: it is aborted here or wherever it runs. */
  async cancel(agentId: string, requestId: RequestId): Promise<void> {
    const key = callKey(agentId, requestId);
    this.calls.get(key)?.abort();
    await this.redis
      .set(`mcp:cancelled:${key}`, '1', 'EX', CANCELLED_SECONDS)
      .catch(() => undefined);
    await this.redis.publish(MCP_CANCEL_CHANNEL, key).catch(() => undefined);
  }

  /** Whether a call whose claim just landed was cancelled meanwhile, at any API process. */
  async claimLanded(agentId: string, requestId: RequestId): Promise<boolean> {
    const key = callKey(agentId, requestId);
    return (await this.redis.exists(`mcp:cancelled:${key}`).catch(() => 0)) === 1;
  }

  close(): void {
    for (const controller of this.calls.values()) controller.abort();
    this.subscriber.disconnect();
  }
}
