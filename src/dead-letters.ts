#!/usr/bin/env node
/**
 * `butler-sos-audit-dead-letters`: what a destination refused, and its replay once the cause is
 * fixed (docs/operations.md).
 *
 *   butler-sos-audit-dead-letters list <file>
 *   butler-sos-audit-dead-letters replay <file> [-c <config.yaml>]
 */
import path from 'node:path';
import { Command } from 'commander';
import { loadAuditEventsConfig } from './lib/config/load.js';
import { configuredDestinationIds } from './lib/audit-destinations/index.js';
import { readDeadLetterFile, replayDeadLetters } from './lib/dead-letter-replay.js';
import { errorMessage } from './lib/errors.js';
import { createSilentLogger } from './lib/logger.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function list(file: string): Promise<void> {
  const { entries, unreadable } = await readDeadLetterFile(file);
  for (const entry of entries) {
    const status = entry.status === undefined ? '' : ` HTTP ${entry.status}`;
    process.stdout.write(
      `${entry.deadLetteredAt} ${entry.destination} event ${entry.eventId} (journal #${entry.seq ?? '-'})${status}: ${entry.reason}\n`,
    );
  }
  process.stdout.write(
    `${entries.length} record(s)${unreadable > 0 ? `, ${unreadable} unreadable line(s) (cut short by a crash)` : ''}\n`,
  );
}

async function replay(file: string, configFile?: string): Promise<void> {
  const loaded = await loadAuditEventsConfig(configFile);
  if (loaded.unreadable !== undefined) fail(loaded.unreadable, 2);
  const { validation } = loaded;
  if (!validation.ok)
    fail(`Invalid configuration in ${loaded.source}:\n  ${validation.problems.join('\n  ')}`, 2);
  const { config } = validation;
  if (!config.journal.enable) fail('journal.enable is false: there is no journal to replay into', 2);
  const outcome = await replayDeadLetters(file, {
    directory: path.resolve(config.journal.directory),
    maxBytes: config.journal.maxBytes,
    fsync: config.journal.fsync,
    destinationIds: configuredDestinationIds(config.destination),
    logger: createSilentLogger(),
  });
  process.stdout.write(
    `replayed ${outcome.replayed} event(s) into the journal; ${outcome.alreadyReplayed} replayed before` +
      (outcome.withoutEnvelope > 0
        ? `; ${outcome.withoutEnvelope} without an envelope (cannot be replayed)`
        : '') +
      (outcome.unreadable > 0 ? `; ${outcome.unreadable} unreadable line(s)` : '') +
      '. Start the module to deliver them.\n',
  );
}

const program = new Command()
  .name('butler-sos-audit-dead-letters')
  .description(
    'Lists and replays the events a destination refused (<journal.directory>/dead-letter/*.ndjson)',
  );
program
  .command('list')
  .argument('<file>', 'a dead-letter file')
  .description('each record: when, which destination, the event, and why it was refused')
  .action((file: string) => list(file));
program
  .command('replay')
  .argument('<file>', 'a dead-letter file')
  .option('-c, --configfile <file>', "the module's YAML config (default: the embedded config/default.yaml)")
  .description(
    'once the cause is fixed, with the module stopped: put each event back into the journal for its destination, once',
  )
  .action((file: string, options: { configfile?: string }) => replay(file, options.configfile));

try {
  await program.parseAsync();
} catch (error) {
  fail(errorMessage(error));
}
