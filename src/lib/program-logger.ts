/**
 * The program's own logger (`butler-sos` run on its own; inside Butler SOS its winston logger is
 * used instead): pino with Butler SOS's levels, one line per message. By default a line reads as
 * Butler SOS prints, `2026-10-14T08:15:42.512Z info: message`; `json` gives pino's JSON lines.
 * With file logging, the same lines also go to a file in `logDirectory` rotated daily
 * (`butler-sos.YYYY-MM-DD.N.log`, by pino-roll).
 */
import path from 'node:path';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import rollingFile from 'pino-roll';
import type { Logger, LogLevel } from './logger.js';

export type LogFormat = 'text' | 'json';

export interface ProgramLoggerOptions {
  level: LogLevel;
  format?: LogFormat;
  /** Where lines go (default: standard output). */
  destination?: NodeJS.WritableStream;
  /** Also write to daily rotated files in this directory. */
  fileDirectory?: string;
}

/** winston's npm levels as pino numbers: verbose sits between info (30) and debug (20), silly below debug. */
const CUSTOM_LEVELS = { verbose: 25, silly: 5 };
const LEVEL_NUMBERS = { ...pino.levels.values, ...CUSTOM_LEVELS };

/** `time level: message`, as Butler SOS's winston console format prints it. */
function textLines(destination: NodeJS.WritableStream | number): NodeJS.WritableStream {
  return pretty({
    destination: destination as never,
    sync: true,
    colorize: false,
    customLevels: Object.entries(LEVEL_NUMBERS)
      .map(([name, number]) => `${name}:${number}`)
      .join(','),
    ignore: 'time,level,pid,hostname',
    hideObject: true,
    // The formatter below writes the level as its name.
    messageFormat: (log, messageKey) =>
      `${new Date(Number(log.time)).toISOString()} ${String(log.level)}: ${String(log[messageKey])}`,
  });
}

function formatted(destination: NodeJS.WritableStream | number, format: LogFormat): DestinationStream {
  if (format === 'text') return textLines(destination) as unknown as DestinationStream;
  return (typeof destination === 'number' ? pino.destination(destination) : destination) as DestinationStream;
}

export async function createProgramLogger(options: ProgramLoggerOptions): Promise<Logger> {
  const format = options.format ?? 'text';
  const streams: Array<{ stream: DestinationStream; level: string }> = [
    { stream: formatted(options.destination ?? 1, format), level: options.level },
  ];
  if (options.fileDirectory) {
    const file = await rollingFile({
      file: path.join(options.fileDirectory, 'butler-sos'),
      extension: '.log',
      frequency: 'daily',
      dateFormat: 'yyyy-MM-dd',
      mkdir: true,
      // Every line is on disk when it returns: the program exits right after its last line.
      sync: true,
    });
    streams.push({
      stream: formatted(file as unknown as NodeJS.WritableStream, format),
      level: options.level,
    });
  }
  const logger: PinoLogger<'verbose' | 'silly'> = pino(
    {
      level: options.level,
      customLevels: CUSTOM_LEVELS,
      base: undefined,
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(streams, { levels: LEVEL_NUMBERS }),
  );
  return {
    error: (message) => logger.error(message),
    warn: (message) => logger.warn(message),
    info: (message) => logger.info(message),
    verbose: (message) => logger.verbose(message),
    debug: (message) => logger.debug(message),
  };
}
