import express from 'express';
import type { RequestHandler } from 'express';

/**
 * A string in a JSON body holds half of a surrogate pair (`"\ud800"`): valid JSON text, but no
 * Unicode text, and nothing UTF-8 (the database, Temporal's payloads) can store. Thrown while the
 * body is parsed; the error handler answers 400 `invalid_json`.
 */
export class UnpairedSurrogateError extends Error {
  constructor() {
    super('the request body holds text that is not valid Unicode (an unpaired surrogate)');
    this.name = 'UnpairedSurrogateError';
  }
}

/** `String.prototype.isWellFormed` (Node 20; not yet in the ES2023 library types). */
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** Parses a JSON body of at most `limit` (objects and arrays only), refusing unpaired surrogates. */
export function jsonBody(limit: string | number): RequestHandler {
  return express.json({
    limit,
    strict: true,
    reviver: (key: string, value: unknown) => {
      if (!wellFormed(key) || (typeof value === 'string' && !wellFormed(value))) {
        throw new UnpairedSurrogateError();
      }
      return value;
    },
  });
}
