import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';

/** MCP's log levels (RFC 5424 severities), least severe first. */
export const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const levelKey = (agentId: string) => `mcp:log-level:${agentId}`;
/** How long an agent's chosen level is kept without being set again. */
const LEVEL_KEEP_SECONDS = 30 * 24 * 3600;

/**
 * The level each agent asked for with `logging/setLevel`. Every POST to /mcp gets its own server
 * (the endpoint is stateless), so the choice is kept per agent in Redis, for every API process.
 * An agent that never chose gets no log messages.
 */
export class AgentLogLevels {
  constructor(private readonly redis: Redis) {}

  async get(agentId: string): Promise<LogLevel | null> {
    const level = await this.redis.get(levelKey(agentId)).catch(() => null);
    return (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : null;
  }

  async set(agentId: string, level: LogLevel): Promise<void> {
    await this.redis.set(levelKey(agentId), level, 'EX', LEVEL_KEEP_SECONDS);
  }
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Sends a call's log messages (`notifications/message`) on its own answer stream. */
export type CallLog = (level: LogLevel, message: string, data?: Record<string, unknown>) => void;

/** A call's log, sending what is at or above the agent's level; nothing without one. */
export function callLog(extra: Extra, agentLevel: LogLevel | null): CallLog {
  if (agentLevel === null) return () => undefined;
  const threshold = LOG_LEVELS.indexOf(agentLevel);
  return (level, message, data) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    void extra
      .sendNotification({
        method: 'notifications/message',
        params: { level, logger: 'aiworker', data: { message, ...data } },
      })
      .catch(() => undefined);
  };
}
