/**
 * git's pkt-line framing (gitprotocol-common(5)): four hex digits giving the length of the line
 * including themselves, then the payload; `0000` is a flush, `0001` a delimiter and `0002` a
 * response end (protocol v2). Only what the gateway reads and writes is here: the command list
 * at the start of a push, and the report it answers when it refuses one.
 */

/** Largest pkt-line git sends or accepts: 65520 bytes including the 4-byte header. */
export const MAX_PKT_LENGTH = 65520;

/** The object id of "no object": the old value of a new ref, the new value of a deleted one. */
export function isNullId(id: string): boolean {
  return /^0+$/.test(id);
}

/** One line of data, framed. */
export function pktLine(payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (data.length + 4 > MAX_PKT_LENGTH) throw new RangeError('pkt-line payload too long');
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}

/** The flush packet that ends a section. */
export const FLUSH = Buffer.from('0000');

/** One packet read from a buffer: a line of data, or one of the special packets. */
export type Packet =
  | { kind: 'data'; payload: Buffer }
  | { kind: 'flush' }
  | { kind: 'delim' }
  | { kind: 'response-end' };

/** Thrown when bytes that should be pkt-lines are not. */
export class PktLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PktLineError';
  }
}

/**
 * Reads the packet at `offset` of `buf`: the packet and the offset after it, or null when the
 * buffer ends before the packet does (more bytes are needed).
 */
export function readPacket(buf: Buffer, offset: number): { packet: Packet; next: number } | null {
  if (buf.length - offset < 4) return null;
  const header = buf.toString('latin1', offset, offset + 4);
  if (!/^[0-9a-fA-F]{4}$/.test(header)) {
    throw new PktLineError(`not a pkt-line length: ${JSON.stringify(header)}`);
  }
  const length = Number.parseInt(header, 16);
  if (length === 0) return { packet: { kind: 'flush' }, next: offset + 4 };
  if (length === 1) return { packet: { kind: 'delim' }, next: offset + 4 };
  if (length === 2) return { packet: { kind: 'response-end' }, next: offset + 4 };
  if (length < 4) throw new PktLineError(`invalid pkt-line length ${length}`);
  if (buf.length - offset < length) return null;
  return {
    packet: { kind: 'data', payload: buf.subarray(offset + 4, offset + length) },
    next: offset + length,
  };
}
