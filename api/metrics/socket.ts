import { createAdapter } from '@socket.io/redis-adapter';
import type { RedisAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { Gauge, Histogram } from 'prom-client';
import type { Namespace } from 'socket.io';
import { registry } from '../../platform/metrics';

/** socket.io clients connected to this API process (counted in `api/socket.ts`). */
export const socketClients = new Gauge({
  name: 'aiworker_socket_clients',
  help: 'socket.io clients connected to this API process',
  registers: [registry],
});

const relayLag = new Histogram({
  name: 'aiworker_event_relay_lag_seconds',
  help: "Time from an event's creation (its at) to this API process relaying it to its socket.io clients",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

/** Observes the lag of a message of the adapter that carries an event (`[uid, packet, opts]`). */
function timed(message: unknown): unknown {
  const packet = Array.isArray(message) ? (message[1] as { data?: unknown }) : undefined;
  const payload = Array.isArray(packet?.data) ? (packet.data[1] as { at?: unknown }) : undefined;
  if (typeof payload?.at === 'string') {
    relayLag.observe(Math.max(0, Date.now() - Date.parse(payload.at)) / 1000);
  }
  return message;
}

/**
 * socket.io's Redis adapter, timing the events it relays. The adapter decodes a published
 * message only when this process has clients in its room, just before it sends it to them, so
 * its parser is where a relay can be seen; the parser itself is the adapter's own.
 */
export function timedRedisAdapter(pub: Redis, sub: Redis): (nsp: Namespace) => RedisAdapter {
  const create = createAdapter(pub, sub);
  // socket.io calls it with `new`, which an arrow function refuses.
  return function timedAdapter(nsp: Namespace) {
    const adapter = create(nsp);
    const { parser } = adapter;
    return Object.assign(adapter, {
      parser: {
        encode: (message: unknown): unknown => parser.encode(message),
        decode: (msg: Buffer) => timed(parser.decode(msg)),
      },
    });
  };
}
