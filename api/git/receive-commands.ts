/**
 * The ref updates a push asks for: the command list at the start of a `git-receive-pack`
 * request body (gitprotocol-pack(5), "Reference Update Request"), read before a byte of the
 * request reaches the repository so the gateway can refuse them.
 *
 *   *PKT-LINE("shallow" SP obj-id)
 *   PKT-LINE(old-id SP new-id SP refname NUL capabilities)
 *   *PKT-LINE(old-id SP new-id SP refname)
 *   flush-pkt
 *   [push options, flush-pkt] [packfile]
 */
import { isNullId, PktLineError, readPacket } from './pkt-line';
import { parseCapabilities } from './push-capabilities';

/** One requested ref update. */
export interface RefUpdate {
  oldId: string;
  newId: string;
  ref: string;
}

/** What the client asked for. */
export interface ReceiveRequest {
  commands: RefUpdate[];
  /** Capabilities the client chose (`report-status`, `side-band-64k`, `atomic`, ...). */
  capabilities: Set<string>;
  /** The capability list as it arrived (its bytes as latin1), for checks that do not parse it. */
  capabilityText: string;
}

/**
 * The command list should be tiny: past this many bytes, or this many ref updates, the request
 * is refused rather than buffered (the list is parsed again as each chunk arrives, and each
 * update is judged against the read model).
 */
export const MAX_COMMAND_BYTES = 64 * 1024;
export const MAX_COMMANDS = 100;

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Parses the command list from the start of `buf`: the request and how many bytes it took, or
 * null while `buf` ends before the flush that closes the list. Throws PktLineError for anything
 * that is not a command list (including signed pushes, which the gateway does not accept).
 */
export function parseReceiveRequest(buf: Buffer): { request: ReceiveRequest; end: number } | null {
  const commands: RefUpdate[] = [];
  let capabilities = new Set<string>();
  let capabilityText = '';
  let offset = 0;
  for (;;) {
    if (offset > MAX_COMMAND_BYTES) throw new PktLineError('the command list is too long');
    const read = readPacket(buf, offset);
    if (!read) {
      if (buf.length > MAX_COMMAND_BYTES) throw new PktLineError('the command list is too long');
      return null;
    }
    offset = read.next;
    const { packet } = read;
    // No command at all is git's probe before it streams a large push (remote-curl's
    // `probe_rpc`, a lone flush): nothing to judge, and receive-pack changes nothing for it.
    if (packet.kind === 'flush')
      return { request: { commands, capabilities, capabilityText }, end: offset };
    if (packet.kind !== 'data') throw new PktLineError(`unexpected ${packet.kind} packet`);
    let line = packet.payload.toString('utf8');
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (commands.length === 0 && /^shallow [0-9a-f]+$/.test(line)) continue;
    if (line.startsWith('push-cert')) throw new PktLineError('signed pushes are not accepted');
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      if (commands.length > 0) throw new PktLineError('capabilities after the first command');
      // Read from the bytes rather than the UTF-8 text: git parses bytes, and decoding would
      // change some (a malformed sequence becomes U+FFFD).
      capabilityText = packet.payload.subarray(packet.payload.indexOf(0) + 1).toString('latin1');
      capabilities = parseCapabilities(capabilityText);
      line = line.slice(0, nul);
    }
    const [oldId = '', newId = '', ref = '', ...rest] = line.split(' ');
    if (!OBJECT_ID.test(oldId) || !OBJECT_ID.test(newId) || !ref || rest.length > 0) {
      throw new PktLineError(`not a ref update: ${JSON.stringify(line.slice(0, 200))}`);
    }
    if (commands.length >= MAX_COMMANDS) {
      throw new PktLineError(`more than ${MAX_COMMANDS} ref updates in one push`);
    }
    commands.push({ oldId, newId, ref });
  }
}

/** Whether an update deletes its ref. */
export function isDelete(update: RefUpdate): boolean {
  return isNullId(update.newId);
}
