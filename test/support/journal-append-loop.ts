/**
 * A child process for the journal crash test: opens the journal in the directory given as
 * argument (fsync 'batch') and appends forever, several appends in flight at a time, printing
 * "<seq> <eventId>" for every append that resolved. The test kills it with SIGKILL: every line
 * it printed is an append that was answered, so it must survive.
 */
import { openJournal } from '../../src/lib/audit-journal/journal.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { freshEnvelope } from './fixtures.js';

const IN_FLIGHT = 16;

const directory = process.argv[2];
const journal = await openJournal({
  directory,
  maxBytes: 1024 * 1024 * 1024,
  fsync: 'batch',
  destinationIds: ['parquet'],
  logger: createSilentLogger(),
  segmentBytes: 64 * 1024,
});

async function appendForever(): Promise<void> {
  for (;;) {
    const envelope = freshEnvelope('navigation.sheet.loaded');
    const seq = await journal.append(envelope);
    process.stdout.write(`${seq} ${envelope.eventId}\n`);
  }
}

await Promise.all(Array.from({ length: IN_FLIGHT }, () => appendForever()));
