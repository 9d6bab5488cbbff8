import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import type { ApiDeps } from './deps';
import { createSocketServer } from './socket';
import type { SocketServer } from './socket';
import { redisReady } from '../platform/redis';

/** Longest the API waits for its first Redis connection before it takes requests anyway. */
const REDIS_READY_WAIT_MS = 3000;

/** A listening API process: HTTP (REST, health, MCP) and socket.io on one port. */
export interface ApiServer {
  http: HttpServer;
  io: SocketServer;
  url: string;
  close(): Promise<void>;
}

/** Starts the API on `host:port` (port 0 picks a free one, as tests do). */
export async function startApiServer(
  deps: ApiDeps,
  host: string,
  port: number,
): Promise<ApiServer> {
  // Requests start once Redis is reachable (or clearly is not): a session, a limit or a
  // creation's cache bump made in the first moment would otherwise be refused with 503.
  await redisReady(deps.redis, REDIS_READY_WAIT_MS);
  const http = createServer(createApp(deps));
  const sockets = createSocketServer(http, deps);
  const io = sockets.io;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    http,
    io,
    url: `http://${shownHost}:${address.port}`,
    close: () => sockets.close(),
  };
}
