/**
 * The most recent committed entries, kept in memory so that cursors which keep up never touch
 * the disk. Bounded by entries and bytes: what falls out is still in the segment files.
 */
import type { LogEntry } from './event-log.js';
import { SeqWindow } from './seq-window.js';

export interface TailLimits {
  maxEntries: number;
  maxBytes: number;
}

export class MemoryTail {
  private readonly entries = new SeqWindow<{ seq: number; entry: LogEntry; bytes: number }>();
  private bytes = 0;

  /** @param floor every committed entry with a seq above it is held here. */
  constructor(
    private floorSeq: number,
    private readonly limits: TailLimits,
  ) {}

  /** Every committed entry above this seq is in the tail; entries at or below it are on disk only. */
  get floor(): number {
    return this.floorSeq;
  }

  push(entry: LogEntry, bytes: number): void {
    this.entries.push({ seq: entry.seq, entry, bytes });
    this.bytes += bytes;
    // Always keep the newest entry, however large: the floor must stay below the last seq.
    while (
      this.entries.size > this.limits.maxEntries ||
      (this.bytes > this.limits.maxBytes && this.entries.size > 1)
    ) {
      this.evictOldest();
    }
  }

  /** Up to `max` entries with a seq above `seq` (which must be at or above the floor). */
  after(seq: number, max: number): LogEntry[] {
    return this.entries.after(seq, max).map((held) => held.entry);
  }

  private evictOldest(): void {
    const evicted = this.entries.dropOldest();
    if (evicted === undefined) return;
    this.floorSeq = evicted.seq;
    this.bytes -= evicted.bytes;
  }
}
