import type { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import type { StagingDeployer } from './deploy/deployer';
import type { Forge } from './forge/forge';
import type { PreviewRuntime } from './preview/runtime';

/** What activities need from the process that hosts them; created once per worker. */
export interface ActivityDeps {
  db: Db;
  redis: Redis;
  /** Sends socket.io events through Redis to whichever API process holds the client. */
  emitter: Emitter;
  logger: Logger;
  /** The forge behind a project's repository; throws ForgeRefusal when that provider is not configured. */
  forgeFor(provider: 'local' | 'gitea'): Forge;
  /** Where task previews (and, without Argo CD, the staging environment) run. */
  previews: PreviewRuntime;
  /** Deploys a project's staging branch: Argo CD when configured, else a local preview of it. */
  staging: StagingDeployer;
  /** Previews older than this are removed unless their task still needs them. */
  previewTtlMs: number;
  /** The board's address, for links in webhook messages. */
  publicUrl: string;
  /** How webhook deliveries retry. */
  webhooks: Config['webhooks'];
}
