/**
 * The settings outside `auditEvents` that the program honours, as Butler SOS names them:
 * `Butler-SOS.logLevel`, `Butler-SOS.fileLogging` and `Butler-SOS.logDirectory`. Everything
 * else in a Butler SOS file is Butler SOS's and is ignored here.
 */
import { LOG_LEVELS, type LogLevel } from '../logger.js';

export interface ProgramSettings {
  logLevel: LogLevel;
  /** Also write the log to daily files in logDirectory. */
  fileLogging: boolean;
  logDirectory: string;
}

const DEFAULTS: ProgramSettings = { logLevel: 'info', fileLogging: false, logDirectory: 'log' };

export function programSettingsOf(
  butlerSos: Record<string, unknown>,
): { ok: true; settings: ProgramSettings } | { ok: false; problems: string[] } {
  const {
    logLevel = DEFAULTS.logLevel,
    fileLogging = DEFAULTS.fileLogging,
    logDirectory = DEFAULTS.logDirectory,
  } = butlerSos;
  const problems: string[] = [];
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    problems.push(`Butler-SOS.logLevel: is ${JSON.stringify(logLevel)}; allowed: ${LOG_LEVELS.join(', ')}`);
  }
  if (typeof fileLogging !== 'boolean') {
    problems.push(`Butler-SOS.fileLogging: is ${JSON.stringify(fileLogging)}, must be true or false`);
  }
  if (typeof logDirectory !== 'string' || logDirectory === '') {
    problems.push(`Butler-SOS.logDirectory: is ${JSON.stringify(logDirectory)}, must be a folder name`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      logLevel: logLevel as LogLevel,
      fileLogging: fileLogging as boolean,
      logDirectory: logDirectory as string,
    },
  };
}
