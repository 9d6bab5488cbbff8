import { z } from 'zod';

/** Stable error codes of the REST API; clients switch on these, never on messages. */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_json',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'not_ready',
  'task_stuck',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Body of every error answer: `{ error: { code, message } }` (README, "HTTP API"). */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    /** With `rate_limited`: when to try again (also the `Retry-After` header). */
    retryAfterSeconds: z.number().int().positive().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
