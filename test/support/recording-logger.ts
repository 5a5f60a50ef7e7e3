/**
 * A logger that keeps its lines for the test to read: an object with the five methods the
 * module needs, as a host's winston logger is. `lines` reads `level: message`.
 */
import { LOG_LEVELS, type Logger, type LogLevel } from '../../src/lib/logger.js';

export interface RecordingLogger {
  logger: Logger;
  /** Every line at or above the level, as `level: message`. */
  lines: string[];
}

export function recordingLogger(level: LogLevel = 'debug'): RecordingLogger {
  const lines: string[] = [];
  const threshold = LOG_LEVELS.indexOf(level);
  const at = (lineLevel: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(lineLevel) <= threshold) lines.push(`${lineLevel}: ${message}`);
  };
  return {
    lines,
    logger: {
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      verbose: at('verbose'),
      debug: at('debug'),
    },
  };
}
