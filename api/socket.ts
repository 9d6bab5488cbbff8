import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { z } from 'zod';
import type { ErrorBody } from '../contracts/errors';
import { projectRoom, RESYNC_EVENT } from '../contracts/events';
import type { DeliveredEvent } from '../contracts/events';
import { lastEventSeq } from '../db/event-seqs';
import { eventsAfter } from '../db/tasks';
import type { ApiDeps } from './deps';
import { ForbiddenError, RateLimitedError } from './errors';
import { delivered } from './events/events';
import { socketClients, timedRedisAdapter } from './metrics/socket';
import { maySeeProject, projectNotFound, sessionPrincipal } from './middleware/auth';
import { errorBody, toApiError } from './middleware/errors';
import { failureDetail } from '../platform/failures';
import type { Principal } from './middleware/auth';
import { requireProject } from './projects/projects';
import { validate } from './validate';

/** Per-connection state socket.io keeps for us. */
export interface SocketData {
  principal: Principal;
  /**
   * Resolves the connection's credential again (its token, or the session cookie it came with):
   * every subscribe uses what the caller may do now, so a token revoked or expired, a session
   * ended, or a membership removed since the connection opened counts at once.
   */
  recheck: () => Promise<Principal | undefined>;
}

type SubscribeAck = (
  answer: { ok: true; replayed: number; more: boolean; latestSeq: number } | ErrorBody,
) => void;

interface ClientToServer {
  subscribe(payload: unknown, ack?: SubscribeAck): void;
  unsubscribe(payload: unknown): void;
}

type ServerToClient = Record<string, (event: DeliveredEvent | Record<string, never>) => void>;

export type SocketServer = Server<
  ClientToServer,
  ServerToClient,
  Record<string, never>,
  SocketData
>;

/**
 * Most events one subscription replays; `more: true` in its answer says to subscribe again from
 * the last `seq` (the board does), so no single call reads an unbounded part of the log.
 */
export const SOCKET_CATCH_UP_LIMIT = 200;

const subscribePayload = z
  .object({
    projectId: z.string().uuid('expected a UUID'),
    /** Replay the project's events after this `seq` before live ones (catch-up after a lost connection). */
    afterSeq: z.number().int().min(0).optional(),
  })
  .strict();

/** Open sockets whose credentials are checked again at once (see `createSocketServer`). */
const RECHECKS_AT_ONCE = 8;

/**
 * The socket.io server on the API's port. A client authenticates when it connects
 * (`io(url, { auth: { token } })`) and joins projects with `subscribe`. Events reach it through
 * the Redis adapter whichever API process or worker sent them.
 */
export function createSocketServer(
  http: HttpServer,
  deps: ApiDeps,
): { io: SocketServer; close(): Promise<void> } {
  const logger = deps.logger.child({ scope: 'api.socket' });
  const io: SocketServer = new Server(http, { serveClient: false, cors: { origin: false } });
  // The subscriber keeps an offline queue so its subscriptions are sent again after a reconnect.
  const subscriber = deps.redis.duplicate({ enableOfflineQueue: true });
  subscriber.on('error', () => undefined);
  io.adapter(timedRedisAdapter(deps.redis, subscriber));
  // Pub/sub keeps nothing for a subscriber that is away: after a reconnect, the clients of this
  // process catch up from the event log.
  let subscribed = false;
  subscriber.on('ready', () => {
    if (!subscribed) {
      subscribed = true;
      return;
    }
    logger.warn('redis subscription re-established; telling clients to catch up');
    io.local.emit(RESYNC_EVENT, {});
  });

  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    const address = deps.clientAddress(
      socket.handshake.address,
      socket.handshake.headers['x-forwarded-for'],
    );
    (async () => {
      await deps.limits.checkAddress(address);
      const given = typeof token === 'string' && token ? token : undefined;
      let principal = await deps.authenticate(given);
      if (!principal && !given) {
        // The board's session cookie, from the board's own pages only: a browser names the
        // page's origin on every WebSocket and cross-site request (Origin, Sec-Fetch-Site);
        // a same-origin long-polling GET carries neither Origin nor a foreign Sec-Fetch-Site.
        const { headers } = socket.handshake;
        const origin = headers.origin;
        const site = headers['sec-fetch-site'];
        const secure = (socket.request as { socket?: { encrypted?: boolean } }).socket?.encrypted;
        const fromBoard = origin
          ? deps.people.boardOrigins(headers.host, Boolean(secure)).includes(origin)
          : site === undefined || site === 'same-origin';
        if (fromBoard) {
          principal = await sessionPrincipal(deps.people, headers.cookie, headers.host);
          socket.data.recheck = () => sessionPrincipal(deps.people, headers.cookie, headers.host);
        }
      } else {
        socket.data.recheck = () => deps.authenticate(given);
      }
      if (!principal && given) await deps.limits.authFailed(address);
      return principal;
    })().then(
      (principal) => {
        if (!principal) {
          next(
            new Error(
              'unauthorized: pass { auth: { token } } with a valid token, or sign in to the board',
            ),
          );
          return;
        }
        socket.data.principal = principal;
        next();
      },
      (err: unknown) => {
        if (err instanceof RateLimitedError) {
          next(new Error(`rate_limited: ${err.message}`));
          return;
        }
        logger.error({ err }, 'socket authentication failed');
        next(new Error('authentication is unavailable; try again shortly'));
      },
    );
  });

  // A revoked or rotated agent's sockets are disconnected at once; reconnecting needs a valid token.
  const stopListening = deps.credentialChanges.onChange((agentId) => {
    for (const socket of io.of('/').sockets.values()) {
      const principal = socket.data.principal;
      if (principal.kind === 'agent' && principal.agentId === agentId) socket.disconnect(true);
    }
  });
  // A person whose role or memberships changed, or who was removed, reconnects (the board does
  // so by itself) and subscribes again under what they may now see.
  const stopListeningToPeople = deps.credentialChanges.onUserChange((userId) => {
    for (const socket of io.of('/').sockets.values()) {
      const principal = socket.data.principal;
      if (principal.kind === 'user' && principal.userId === userId) socket.disconnect(true);
    }
  });

  // A credential can stop working with nothing announced: a token reaches its expiry, a session
  // is signed out or expires. Every open socket's is checked again, and one that works no more
  // is disconnected; reconnecting is refused as `unauthorized` (the board then asks to sign in).
  // A few sockets at a time (each check may be a query on the pool requests use), and never two
  // rounds at once.
  const recheckSockets = async (): Promise<void> => {
    const sockets = [...io.of('/').sockets.values()];
    let unchecked = 0;
    for (let i = 0; i < sockets.length; i += RECHECKS_AT_ONCE) {
      await Promise.all(
        sockets.slice(i, i + RECHECKS_AT_ONCE).map(async (socket) => {
          try {
            const now = await socket.data.recheck();
            if (now) socket.data.principal = now;
            else socket.disconnect(true);
          } catch {
            // Not known now (Redis or the database away): it stays until the next round.
            unchecked += 1;
          }
        }),
      );
    }
    if (unchecked > 0) {
      logger.warn(
        { sockets: unchecked },
        "open sockets' credentials could not be checked; they stay connected until the next check",
      );
    }
  };
  let rechecking = false;
  const recheck = setInterval(() => {
    if (rechecking) return;
    rechecking = true;
    void recheckSockets().finally(() => {
      rechecking = false;
    });
  }, deps.socketRecheckMs);
  recheck.unref();

  io.on('connection', (socket) => {
    socketClients.inc();
    socket.once('disconnect', () => socketClients.dec());
    socket.on('subscribe', async (...args: unknown[]) => {
      // A client that sends no payload sends its acknowledgement first: it is answered too.
      const ack = args.at(-1);
      const payload = args.length > 1 ? args[0] : typeof ack === 'function' ? undefined : ack;
      const answer = (typeof ack === 'function' ? ack : () => undefined) as SubscribeAck;
      try {
        const now = await socket.data.recheck();
        if (!now) {
          answer({
            error: {
              code: 'unauthorized',
              message: 'this credential works no more',
              retryable: false,
            },
          });
          socket.disconnect(true);
          return;
        }
        socket.data.principal = now;
        // A subscription counts as a request of the token: its catch-up reads the event log.
        (await deps.limits.admit(socket.data.principal))();
        const { projectId, afterSeq } = validate(subscribePayload, payload, 'body');
        if (!maySeeProject(socket.data.principal, projectId)) {
          // To a person who is not a member the project does not exist, as on the REST routes.
          if (socket.data.principal.kind === 'user') throw projectNotFound(projectId);
          throw new ForbiddenError(`project ${projectId} is not one of this agent's projects`);
        }
        await requireProject(deps, projectId);
        // Join first, then replay: an event that lands in between arrives twice, never not at
        // all; clients drop duplicates by `seq`.
        await socket.join(projectRoom(projectId));
        // Where the log stands now: a client starting here loads the rest from the API.
        const latestSeq = await lastEventSeq(deps.db, projectId);
        let replayed = 0;
        let more = false;
        if (afterSeq !== undefined) {
          const missed = await eventsAfter(deps.db, projectId, afterSeq, SOCKET_CATCH_UP_LIMIT);
          for (const e of missed) {
            const { type, data } = delivered(e);
            socket.emit(type, data);
          }
          replayed = missed.length;
          more = missed.length === SOCKET_CATCH_UP_LIMIT;
        }
        answer({ ok: true, replayed, more, latestSeq });
      } catch (err) {
        const known = toApiError(err);
        // A failure the client cannot act on alone carries an id the server's log names it by.
        if (!known || known.status >= 500) {
          const requestId = randomUUID();
          if (!known) logger.error({ requestId, err }, 'subscribe failed');
          else {
            logger.warn(
              { requestId, code: known.code, cause: failureDetail(err) },
              'subscribe failed',
            );
          }
          answer(errorBody(known, requestId));
          return;
        }
        answer(errorBody(known));
      }
    });
    socket.on('unsubscribe', async (payload) => {
      const parsed = subscribePayload.pick({ projectId: true }).safeParse(payload);
      if (parsed.success) await socket.leave(projectRoom(parsed.data.projectId));
    });
  });
  return {
    io,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(recheck);
        stopListening();
        stopListeningToPeople();
        void io.close(() => {
          subscriber.disconnect();
          resolve();
        });
      }),
  };
}
