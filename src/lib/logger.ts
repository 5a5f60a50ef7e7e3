/**
 * What the module logs through: any object with these five methods, each taking a message
 * string. A winston logger (Butler SOS's) is one as it is; the program's own logger
 * (program-logger.ts) is one; nothing here needs a logger of a particular library. Messages
 * carry what an administrator needs in their text: never a payload above debug, never a secret.
 */
export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  verbose(message: string): void;
  debug(message: string): void;
}

/** Butler SOS's log levels, most severe first (winston's npm levels). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LOGGER_METHODS = ['error', 'warn', 'info', 'verbose', 'debug'] as const;

/** Whether `candidate` has the five methods a Logger needs; the missing ones otherwise. */
export function missingLoggerMethods(candidate: unknown): string[] {
  return LOGGER_METHODS.filter(
    (method) => typeof (candidate as Record<string, unknown> | null)?.[method] !== 'function',
  );
}

/** `<prefix>: <message>` on every line: the logs of one part of the module (a destination). */
export function prefixedLogger(logger: Logger, prefix: string): Logger {
  return {
    error: (message) => logger.error(`${prefix}: ${message}`),
    warn: (message) => logger.warn(`${prefix}: ${message}`),
    info: (message) => logger.info(`${prefix}: ${message}`),
    verbose: (message) => logger.verbose(`${prefix}: ${message}`),
    debug: (message) => logger.debug(`${prefix}: ${message}`),
  };
}

/** A logger that drops everything: for tests that do not look at logs. */
export function createSilentLogger(): Logger {
  const ignore = () => {};
  return { error: ignore, warn: ignore, info: ignore, verbose: ignore, debug: ignore };
}
