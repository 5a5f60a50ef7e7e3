#!/usr/bin/env node
/**
 * The program (`npm start`, or the package's `butler-sos-audit-events` bin): reads the flags
 * and the config file (exit 2 with one line per problem), starts the audit module with its own
 * logger, and stops it cleanly on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createAuditModule } from './lib/audit-module.js';
import { loadAuditEventsConfig } from './lib/config/load.js';
import { programSettingsOf } from './lib/config/program-settings.js';
import { errorMessage } from './lib/errors.js';
import { LOG_LEVELS, type LogLevel } from './lib/logger.js';
import { createProgramLogger, type LogFormat } from './lib/program-logger.js';

const EXIT_CONFIG_ERROR = 2;
const EXIT_START_FAILED = 1;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

interface ProgramOptions {
  configfile?: string;
  loglevel?: LogLevel;
  logFormat: LogFormat;
}

function parseArguments(version: string): ProgramOptions {
  const program = new Command()
    .name('butler-sos-audit-events')
    .description('Butler SOS audit events: receives Audit.qs events and stores them in Parquet and InfluxDB')
    .version(version)
    .option('-c, --configfile <file>', 'YAML config file (default: the embedded config/default.yaml)')
    .addOption(
      new Option('-l, --loglevel <level>', 'log level; overrides Butler-SOS.logLevel').choices(LOG_LEVELS),
    )
    .addOption(
      new Option('--log-format <format>', "'text' (time level: message) or 'json' (one JSON object per line)")
        .choices(['text', 'json'])
        .default('text'),
    )
    .parse();
  return program.opts<ProgramOptions>();
}

function failConfig(source: string, problems: string[]): never {
  process.stderr.write(`Invalid configuration in ${source} (${problems.length} problem(s)):\n`);
  for (const problem of problems) process.stderr.write(`  ${problem}\n`);
  process.exit(EXIT_CONFIG_ERROR);
}

async function main(): Promise<void> {
  const version = packageVersion();
  const options = parseArguments(version);
  const loaded = await loadAuditEventsConfig(options.configfile);
  const { source } = loaded;
  if (loaded.unreadable !== undefined) failConfig(source, [loaded.unreadable]);
  const { butlerSos, validation } = loaded;
  const program = programSettingsOf(butlerSos);
  const problems = [...(validation.ok ? [] : validation.problems), ...(program.ok ? [] : program.problems)];
  if (!validation.ok || !program.ok) failConfig(source, problems);

  const { settings } = program;
  const logger = await createProgramLogger({
    level: options.loglevel ?? settings.logLevel,
    format: options.logFormat,
    fileDirectory: settings.fileLogging ? path.resolve(settings.logDirectory) : undefined,
  });
  logger.info(`butler-sos-audit-events ${version}, config ${source}`);
  const module = createAuditModule(validation.config, {
    logger,
    version,
    configWarnings: validation.warnings,
  });
  // The handlers come before start(): a signal that arrives while it runs (or the moment it
  // says it listens) must stop the module cleanly, not kill the process with it half started.
  const started = module.start();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal} received: no longer accepting events, writing what is buffered`);
    started
      .catch(() => undefined) // a failed start is reported below and exits on its own
      .then(() => module.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${errorMessage(error)}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await started;
  } catch (error) {
    logger.error(`audit module failed to start: ${errorMessage(error)}`);
    process.exit(EXIT_START_FAILED);
  }
}

await main();
