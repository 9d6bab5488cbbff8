/**
 * A git request's body as the gateway reads it: gunzipped when git compressed it
 * (`Content-Encoding: gzip`, which it does for large fetch negotiations), chunked or not, and
 * counted against the configured limit after decompression, so neither a large push nor a small
 * gzip bomb can use more than that.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GitHttpError } from './errors';

/** The limit as people set it, for messages. */
function shown(limitBytes: number): string {
  return `${Math.round((limitBytes / (1 << 20)) * 10) / 10} MB`;
}

/** The 413 a body over the limit gets. */
export function bodyTooLarge(limitBytes: number): GitHttpError {
  return new GitHttpError(
    413,
    `this request is larger than the git gateway accepts (${shown(limitBytes)}, AIWORKER_GIT_BODY_LIMIT_MB): push fewer or smaller commits at a time`,
  );
}

/**
 * The decoded body of `req`. It fails with a 413 GitHttpError past `limitBytes`, and with a 400
 * one for an encoding the gateway does not read or a gzip stream that is broken.
 */
export function requestBody(req: IncomingMessage, limitBytes: number): Readable {
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new GitHttpError(400, `Content-Encoding "${encoding}" is not accepted (gzip is)`);
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!encoding.includes('gzip') && declared > limitBytes) throw bodyTooLarge(limitBytes);
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limitBytes) done(bodyTooLarge(limitBytes));
      else done(null, chunk);
    },
  });
  // Errors surface on `limit`, where the body is read (a broken gzip stream as zlib's error).
  const settle = () => undefined;
  if (encoding.includes('gzip')) return pipeline(req, createGunzip(), limit, settle);
  return pipeline(req, limit, settle);
}

/**
 * Reads a body from its start while the caller needs to look at it, then hands on the whole of
 * it (what was read, then the rest, unread) or throws the rest away.
 */
export class BodyReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private head = Buffer.alloc(0);
  private ended = false;

  constructor(body: Readable) {
    this.chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Reads until `parse` answers something other than null, or the body ends (then null). */
  async readUntil<T>(parse: (head: Buffer) => T | null): Promise<T | null> {
    for (;;) {
      const parsed = parse(this.head);
      if (parsed !== null || this.ended) return parsed;
      const next = await this.chunks.next();
      if (next.done) this.ended = true;
      else this.head = Buffer.concat([this.head, next.value]);
    }
  }

  /** The whole body: the bytes read so far, then the rest as it arrives. */
  whole(): Readable {
    const { head, chunks } = this;
    const ended = this.ended;
    return Readable.from(
      (async function* () {
        if (head.length) yield head;
        if (ended) return;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
          yield next.value;
        }
      })(),
      { objectMode: false },
    );
  }

  /** Reads the rest and drops it (a refused push's pack), so the client is answered cleanly. */
  async discard(): Promise<void> {
    if (this.ended) return;
    for (let next = await this.chunks.next(); !next.done; next = await this.chunks.next());
    this.ended = true;
  }
}
