/**
 * Entry point: reads the CLI flags, loads and validates the config (exit 2 on problems, one
 * line each), starts the audit module and stops it cleanly on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createAuditModule } from './lib/audit-module.js';
import { ConfigFileError, loadRawAuditEventsConfig } from './lib/config/load.js';
import { validateAuditEventsConfig } from './lib/config/validate.js';
import { errorMessage } from './lib/errors.js';
import type { LogLevel } from './lib/logger.js';
import { createProgramLogger } from './lib/program-logger.js';

const EXIT_CONFIG_ERROR = 2;
const EXIT_START_FAILED = 1;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function parseArguments(version: string) {
  const program = new Command()
    .name('butler-sos')
    .description('Butler SOS audit events: receives Audit.qs events and stores them in Parquet and InfluxDB')
    .version(version)
    .option('-c, --configfile <file>', 'YAML config file (default: config/default.yaml)')
    .option('-l, --loglevel <level>', 'error, warn, info, verbose or debug', 'info')
    .parse();
  return program.opts<{ configfile?: string; loglevel: LogLevel }>();
}

function failConfig(problems: string[]): never {
  process.stderr.write(`Invalid configuration (${problems.length} problem(s)):\n`);
  for (const problem of problems) process.stderr.write(`  ${problem}\n`);
  process.exit(EXIT_CONFIG_ERROR);
}

async function main(): Promise<void> {
  const version = packageVersion();
  const options = parseArguments(version);
  let raw: unknown;
  try {
    raw = await loadRawAuditEventsConfig(options.configfile);
  } catch (error) {
    if (error instanceof ConfigFileError) failConfig([error.message]);
    throw error;
  }
  const validation = validateAuditEventsConfig(raw);
  if (!validation.ok) failConfig(validation.problems);

  const logger = await createProgramLogger({ level: options.loglevel });
  const module = createAuditModule(validation.config, { logger, version });
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
