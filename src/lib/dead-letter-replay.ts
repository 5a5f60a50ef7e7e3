/**
 * Dead letters, read and replayed. A dead-letter file holds the events one destination refused,
 * each with its reason and its envelope (audit-destinations/dead-letter.ts). Once the cause is
 * fixed (the type conflict dropped, the limit raised), `replay` puts each event back into the
 * journal for that destination only, so that the destinations that stored it the first time do
 * not store it again, and notes it in `<file>.replayed`, so that each event is replayed at most
 * once however often the command runs. The module must be stopped: the journal has one writer.
 */
import { appendFile, open, readFile } from 'node:fs/promises';
import type { AuditEnvelope } from './audit-events/types.js';
import type { DeadLetterRecord } from './audit-destinations/dead-letter.js';
import { openJournal, type JournalOptions } from './audit-journal/journal.js';

export interface DeadLetterEntry extends DeadLetterRecord {
  deadLetteredAt: string;
  destination: string;
}

export interface DeadLetterFileContents {
  entries: DeadLetterEntry[];
  /** Lines that are not a record: a last line a crash cut short. */
  unreadable: number;
}

/** The records of a dead-letter file, in order; a torn line is counted, not thrown. */
export async function readDeadLetterFile(file: string): Promise<DeadLetterFileContents> {
  const entries: DeadLetterEntry[] = [];
  let unreadable = 0;
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as DeadLetterEntry);
    } catch {
      unreadable += 1;
    }
  }
  return { entries, unreadable };
}

/** Which record of a file a replay note is about: its log seq, or its eventId when it had none. */
function recordKey(entry: Pick<DeadLetterEntry, 'destination' | 'seq' | 'eventId'>): string {
  return `${entry.destination}:${entry.seq ?? entry.eventId}`;
}

function replayNotesFile(file: string): string {
  return `${file}.replayed`;
}

async function replayedKeys(file: string): Promise<Set<string>> {
  const text = await readFile(replayNotesFile(file), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const keys = new Set<string>();
  for (const line of text.split('\n')) {
    try {
      if (line.trim() !== '') keys.add((JSON.parse(line) as { key: string }).key);
    } catch {
      // a note cut short by a crash: its event is replayed again, which a destination
      // writing it idempotently (InfluxDB) absorbs
    }
  }
  return keys;
}

/** Appends one note and syncs it: once it is on disk the event is never replayed again. */
async function noteReplayed(file: string, key: string, journalSeq: number): Promise<void> {
  await appendFile(
    replayNotesFile(file),
    `${JSON.stringify({ key, journalSeq, replayedAt: new Date().toISOString() })}\n`,
    { mode: 0o600 },
  );
  const handle = await open(replayNotesFile(file), 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export interface ReplayOutcome {
  replayed: number;
  /** Replayed by an earlier run. */
  alreadyReplayed: number;
  /** Records without an envelope (written by an earlier version): they cannot be replayed. */
  withoutEnvelope: number;
  unreadable: number;
}

/** Replays every record of `file` not replayed yet into the journal, for its own destination. */
export async function replayDeadLetters(file: string, journal: JournalOptions): Promise<ReplayOutcome> {
  const { entries, unreadable } = await readDeadLetterFile(file);
  const done = await replayedKeys(file);
  const outcome: ReplayOutcome = { replayed: 0, alreadyReplayed: 0, withoutEnvelope: 0, unreadable };
  const log = await openJournal(journal);
  try {
    for (const entry of entries) {
      const key = recordKey(entry);
      if (done.has(key)) {
        outcome.alreadyReplayed += 1;
      } else if (!entry.envelope) {
        outcome.withoutEnvelope += 1;
      } else {
        const journalSeq = await log.appendFor([entry.destination], entry.envelope as AuditEnvelope);
        await noteReplayed(file, key, journalSeq);
        done.add(key);
        outcome.replayed += 1;
      }
    }
  } finally {
    await log.close();
  }
  return outcome;
}
