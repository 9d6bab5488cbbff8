/**
 * A local preview's port on this machine: how the runtime binds it (on loopback, to hand over to
 * a sandbox; or just checks it is free, for an unsandboxed app) and asks the app whether it is up.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { Server } from 'node:net';

/** Whether the app answers 2xx/3xx on `healthPath` at 127.0.0.1:`port`. */
export async function answers(port: number, healthPath: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: healthPath, timeout: 2_000 }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** Listens on `port` (0: any) on every interface, as an unsandboxed app would, and gives it back. */
export async function bindable(port: number): Promise<number | null> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** A socket listening on 127.0.0.1:`port` (0: any free port), or null when the port is taken. */
export async function listenLoopback(port: number): Promise<Server | null> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

/** The descriptor of a listening server, to hand over to a child process. */
export function descriptorOf(server: Server): number {
  // Node.js has no public accessor; its TCP handle exposes the descriptor on every Unix.
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor for the preview port');
  return fd;
}

/** The port `server` listens on. */
export function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the preview port is not bound');
  return address.port;
}
