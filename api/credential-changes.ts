import type { Redis } from 'ioredis';
import { AGENT_CREDENTIALS_CHANNEL } from '../contracts/agent';
import type { Logger } from '../platform/logger';

type Listener = (agentId: string) => void;

/**
 * Hears, on every API process, that an agent's token was revoked or replaced
 * (`announceAgentCredentialsChange`), so the process forgets the token, ends the agent's open
 * long polls and disconnects its sockets at once. One Redis subscription per process.
 */
export class AgentCredentialChanges {
  private readonly listeners = new Set<Listener>();
  private readonly subscriber: Redis;

  constructor(redis: Redis, logger: Logger) {
    this.subscriber = redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber
      .subscribe(AGENT_CREDENTIALS_CHANNEL)
      .catch((err: Error) =>
        logger.warn({ err: err.message }, 'credential-change subscription failed'),
      );
    this.subscriber.on('message', (_channel: string, message: string) => {
      let agentId: unknown;
      try {
        agentId = (JSON.parse(message) as { agentId?: unknown }).agentId;
      } catch {
        return;
      }
      if (typeof agentId !== 'string') return;
      for (const listener of this.listeners) {
        try {
          listener(agentId);
        } catch (err) {
          logger.error({ err, agentId }, 'a credential-change listener failed');
        }
      }
    });
  }

  /** Calls `listener` with the agent's id whenever its credentials change; returns how to stop. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.subscriber.disconnect();
  }
}
