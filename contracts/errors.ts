import { z } from 'zod';

/** Stable error codes of the REST API; clients switch on these, never on messages. */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_json',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'not_acceptable',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'not_ready',
  'timed_out',
  'task_stuck',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Body of every error answer: `{ error: { code, message, retryable, requestId } }` (README,
 * "Errors").
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    /** Whether the same request may succeed later (over a limit, a dependency away). */
    retryable: z.boolean(),
    /** With a retryable error: when to try again (also the `Retry-After` header). */
    retryAfterSeconds: z.number().int().positive().optional(),
    /**
     * The HTTP request's id (also the `X-Request-Id` header), as the server's logs name it;
     * socket.io answers have none.
     */
    requestId: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
