/**
 * The module's logger: pino (fastify's own), one instance built at start and injected
 * everywhere. Secrets are redacted at every level.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'error' | 'warn' | 'info' | 'debug' | 'child' | 'level'>;

export type LogLevel = 'error' | 'warn' | 'info' | 'verbose' | 'debug' | 'silent';

/** Keys whose values never reach a log line, whatever the level. */
export const REDACTED_KEYS = [
  'apiToken',
  'token',
  'password',
  'passphrase',
  '*.apiToken',
  '*.token',
  '*.password',
  '*.passphrase',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: level === 'verbose' ? 'info' : level,
    base: { module: 'audit-events' },
    redact: { paths: REDACTED_KEYS, censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything: for tests that do not look at logs. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
