import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { Logger } from '../platform/logger';
import type { Authenticator, Principal } from './middleware/auth';

/** Per-connection state socket.io keeps for us. */
export interface SocketData {
  principal: Principal;
}

export type SocketServer = Server<
  Record<string, never>,
  Record<string, never>,
  Record<string, never>,
  SocketData
>;

/**
 * The socket.io server on the API's port. A client must authenticate when it connects
 * (`io(url, { auth: { token } })`); the handshake is refused otherwise.
 */
export function createSocketServer(
  http: HttpServer,
  authenticate: Authenticator,
  logger: Logger,
): SocketServer {
  const io: SocketServer = new Server(http, { serveClient: false, cors: { origin: false } });
  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    const principal = authenticate(typeof token === 'string' ? token : undefined);
    if (!principal) {
      next(new Error('unauthorized: pass { auth: { token } } with a valid token'));
      return;
    }
    socket.data.principal = principal;
    next();
  });
  io.on('connection', (socket) => {
    logger.debug({ socketId: socket.id }, 'socket connected');
  });
  return io;
}
