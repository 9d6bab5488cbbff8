import pino from 'pino';
import type { Config } from './config';

export type Logger = pino.Logger;

/**
 * Paths that are removed from every log line, as a second line of defence: code should not
 * pass secrets to the logger in the first place.
 */
const REDACT = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'adminToken',
  '*.adminToken',
  'databaseUrl',
  '*.databaseUrl',
];

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
