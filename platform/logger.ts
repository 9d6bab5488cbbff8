import pino from 'pino';
import type { Config } from './config';

export type Logger = pino.Logger;

/**
 * Paths that are removed from every log line, as a second line of defence: code should not
 * pass secrets to the logger in the first place.
 */
const SECRET_KEYS = [
  'token',
  'password',
  'authorization',
  'Authorization',
  'adminToken',
  'databaseUrl',
  'redisUrl',
];
// pino matches exact paths: each key at the top level and up to three objects deep.
const REDACT = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

/** The root logger of a process; components take `logger.child({ scope })`. */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
