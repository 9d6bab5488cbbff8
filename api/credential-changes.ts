import type { Redis } from 'ioredis';
import { AGENT_CREDENTIALS_CHANNEL } from '../contracts/agent';
import { USER_CHANGES_CHANNEL } from '../contracts/user';
import type { Logger } from '../platform/logger';

type Listener = (agentId: string) => void;

/**
 * Hears, on every API process, that an agent's token was revoked or replaced
 * (`announceAgentCredentialsChange`), so the process forgets the token, ends the agent's open
 * long polls and disconnects its sockets at once; and that a person's account changed
 * (`announceUserChange`), so it forgets their role and memberships. One Redis subscription per
 * process.
 */
export class AgentCredentialChanges {
  private readonly listeners = new Set<Listener>();
  private readonly userListeners = new Set<Listener>();
  private readonly subscriber: Redis;

  constructor(redis: Redis, logger: Logger) {
    this.subscriber = redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber
      .subscribe(AGENT_CREDENTIALS_CHANNEL, USER_CHANGES_CHANNEL)
      .catch((err: Error) =>
        logger.warn({ err: err.message }, 'credential-change subscription failed'),
      );
    this.subscriber.on('message', (channel: string, message: string) => {
      const field = channel === USER_CHANGES_CHANNEL ? 'userId' : 'agentId';
      let agentId: unknown;
      try {
        agentId = (JSON.parse(message) as Record<string, unknown>)[field];
      } catch {
        return;
      }
      if (typeof agentId !== 'string') return;
      const listeners = channel === USER_CHANGES_CHANNEL ? this.userListeners : this.listeners;
      for (const listener of listeners) {
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

  /** Calls `listener` with a person's id whenever their account changes; returns how to stop. */
  onUserChange(listener: Listener): () => void {
    this.userListeners.add(listener);
    return () => this.userListeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.userListeners.clear();
    this.subscriber.disconnect();
  }
}
