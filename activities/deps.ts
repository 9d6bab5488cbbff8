import type { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Logger } from '../platform/logger';

/** What activities need from the process that hosts them; created once per worker. */
export interface ActivityDeps {
  db: Db;
  redis: Redis;
  /** Sends socket.io events through Redis to whichever API process holds the client. */
  emitter: Emitter;
  logger: Logger;
}
