/** Reading an event log's entries back in tests, and what to compare them with. */
import type { Cursor, LogEntry } from '../../src/lib/audit-journal/event-log.js';

/** Reads until `count` entries arrived, `max` at a time; fails if the log closes first. */
export async function readExactly(cursor: Cursor, count: number, max = count): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  while (entries.length < count) {
    const batch = await cursor.next(Math.min(max, count - entries.length));
    if (batch.length === 0) throw new Error(`log closed after ${entries.length} of ${count} entries`);
    entries.push(...batch);
  }
  return entries;
}

export function seqsOf(entries: LogEntry[]): number[] {
  return entries.map((entry) => entry.seq);
}

/** first, first + 1, ..., last */
export function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

/**
 * Reads until the entry `lastSeq` arrived: every entry the log holds up to it, however many
 * are missing on the way (readExactly would wait forever for a lost one).
 */
export async function readThrough(cursor: Cursor, lastSeq: number, max = 1000): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  while ((entries.at(-1)?.seq ?? 0) < lastSeq) {
    const batch = await cursor.next(max);
    if (batch.length === 0) throw new Error(`log closed after #${entries.at(-1)?.seq ?? 0} of #${lastSeq}`);
    entries.push(...batch);
  }
  return entries;
}
