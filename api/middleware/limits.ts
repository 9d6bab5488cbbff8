import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../../platform/logger';
import { RateLimitedError } from '../errors';
import type { Principal } from './auth';

/** How hard each caller may push (README, "Configuration"). */
export interface LimitSettings {
  /** Requests per second one agent token may make, on every API process together. */
  agentRequestsPerSecond: number;
  /** Requests one agent token may have open at once (long polls included). */
  agentConcurrentRequests: number;
  /** Failed authentications one client address may make per minute before it must wait. */
  authFailuresPerMinute: number;
}

/** People (the operator's token, each signed-in person) get this many times an agent's allowance, each their own. */
const ADMIN_FACTOR = 10;
/** How long an address that failed authentication too often is refused outright. */
const AUTH_BLOCK_SECONDS = 60;
/** A counter of open requests outlives a process that died holding some by at most this long. */
const CONCURRENCY_TTL_SECONDS = 120;

/** Takes one slot of `KEYS[1]` if fewer than ARGV[1] are taken; answers the count, or -1. */
const TAKE_SLOT = `
local n = redis.call('incr', KEYS[1])
redis.call('expire', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then redis.call('decr', KEYS[1]) return -1 end
return n`;
/** Gives a slot back, never below zero. */
const GIVE_SLOT = `
local n = redis.call('decr', KEYS[1])
if n < 0 then redis.call('set', KEYS[1], 0) end
return n`;

function secondsOf(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * Request limits shared by every API process through Redis (`rate-limiter-flexible`): a rate and
 * a number of open requests per token, and a budget of failed sign-ins per client address. When
 * Redis cannot be reached each process falls back to limits of its own, so a Redis outage never
 * lifts them and never fails a request.
 */
export class RequestLimits {
  private readonly agentRate: RateLimiterRedis;
  private readonly adminRate: RateLimiterRedis;
  private readonly authFailures: RateLimiterRedis;
  /** Open requests per token while Redis is away: this process's own count. */
  private readonly localOpen = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly settings: LimitSettings,
    private readonly logger: Logger,
  ) {
    const rated = (
      keyPrefix: string,
      points: number,
      duration: number,
      blockDuration = 0,
      blockInMemory = false,
    ) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix,
        points,
        duration,
        blockDuration,
        // A token over its rate is refused by this process alone until its window ends, so a
        // burst costs Redis one call per window, not one per refused request.
        ...(blockInMemory ? { inMemoryBlockOnConsumed: points + 1 } : {}),
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration, blockDuration }),
      });
    const perSecond = settings.agentRequestsPerSecond;
    this.agentRate = rated('limit:rate:agent', perSecond, 1, 0, true);
    this.adminRate = rated('limit:rate:admin', perSecond * ADMIN_FACTOR, 1, 0, true);
    this.authFailures = rated(
      'limit:auth-failures',
      settings.authFailuresPerMinute,
      60,
      AUTH_BLOCK_SECONDS,
    );
  }

  /** Refuses (RateLimitedError) an address that has failed authentication too often lately. */
  async checkAddress(address: string): Promise<void> {
    const state = await this.authFailures.get(address).catch(() => null);
    if (state && state.consumedPoints >= this.settings.authFailuresPerMinute) {
      throw new RateLimitedError(
        'too many failed authentications from this address',
        secondsOf(state),
      );
    }
  }

  /**
   * Counts a sign-in attempt against `key` before it is checked, so that attempts sent in
   * parallel cannot all pass a budget read before any of them failed; `forgive` gives it back
   * when the attempt succeeds. Throws RateLimitedError over the budget.
   */
  async attempt(key: string, message: string): Promise<void> {
    try {
      await this.authFailures.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw new RateLimitedError(message, secondsOf(err));
      // Redis away and no insurance answer: let the attempt through rather than fail it.
    }
  }

  async forgive(key: string): Promise<void> {
    await this.authFailures.reward(key, 1).catch(() => undefined);
  }

  /** Counts a failed authentication against the address. */
  async authFailed(address: string): Promise<void> {
    await this.authFailures.consume(address).catch(() => undefined);
  }

  /**
   * Admits one request of `principal` costing `points` (an MCP batch costs one per message), or
   * throws RateLimitedError. Returns the function that frees its concurrency slot once the
   * request is over.
   */
  async admit(principal: Principal, points = 1): Promise<() => void> {
    // People (the operator's token, signed-in persons) get the larger budget; agents their own.
    const key =
      principal.kind === 'admin'
        ? 'admin'
        : principal.kind === 'user'
          ? `user:${principal.userId}`
          : principal.agentId;
    const limiter = principal.kind === 'agent' ? this.agentRate : this.adminRate;
    try {
      await limiter.consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new RateLimitedError('too many requests with this token', secondsOf(err));
      }
      throw err;
    }
    if (principal.kind !== 'agent') return () => undefined;
    return await this.takeSlot(key);
  }

  private async takeSlot(agentId: string): Promise<() => void> {
    const max = this.settings.agentConcurrentRequests;
    const refuse = () =>
      new RateLimitedError(`more than ${max} requests of this token are open at once`, 1);
    const redisKey = `limit:open:${agentId}`;
    let taken: number;
    try {
      taken = (await this.redis.eval(
        TAKE_SLOT,
        1,
        redisKey,
        max,
        CONCURRENCY_TTL_SECONDS,
      )) as number;
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'limits: counting open requests locally');
      const open = this.localOpen.get(agentId) ?? 0;
      if (open >= max) throw refuse();
      this.localOpen.set(agentId, open + 1);
      let freed = false;
      return () => {
        if (freed) return;
        freed = true;
        const left = (this.localOpen.get(agentId) ?? 1) - 1;
        if (left > 0) this.localOpen.set(agentId, left);
        else this.localOpen.delete(agentId);
      };
    }
    if (taken < 0) throw refuse();
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.redis.eval(GIVE_SLOT, 1, redisKey).catch(() => undefined);
    };
  }
}

/**
 * Admits the authenticated request under its token's limits (`RequestLimits.admit`) and frees
 * its slot when the answer is over. Runs after authentication.
 */
export function limitRequests(limits: RequestLimits, cost: (req: Request) => number = () => 1) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const release = await limits.admit(req.principal!, cost(req));
    res.once('close', release);
    next();
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Who the request comes from (`clientAddresses`). */
    clientAddress?: string;
  }
}

/**
 * Works out who each request comes from, once, before anything counts it: the connection's
 * address, or behind trusted proxies (`AIWORKER_TRUSTED_PROXIES`) the client they forwarded.
 */
export function clientAddresses(
  resolve: (remote: string | undefined, forwardedFor: string | string[] | undefined) => string,
) {
  return (req: Request, _res: Response, next: NextFunction) => {
    req.clientAddress = resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    next();
  };
}

/** Who the request comes from, as `clientAddresses` found. */
export function clientAddress(req: Request): string {
  return req.clientAddress ?? req.socket.remoteAddress ?? 'unknown';
}
