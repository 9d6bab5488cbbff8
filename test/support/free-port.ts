import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The first port the system hands out on its own (to `listen(0)` and to outgoing connections).
 * A port below it that is free now stays free until something binds it on purpose: one from the
 * system's own range can be taken meanwhile by any connection of any process, which is what
 * made a server started on it later fail with "address already in use".
 */
function firstEphemeralPort(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > 2048 ? first : 32768;
  } catch {
    return 32768;
  }
}

const HIGHEST = firstEphemeralPort() - 1;
const LOWEST = Math.max(1024, HIGHEST - 12_000);

function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports this process has handed out: a test asking for several gets different ones. */
const given = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on right now, outside the system's own range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (given.has(port)) continue;
    if (await listensOn(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOWEST} and ${HIGHEST}`);
}
