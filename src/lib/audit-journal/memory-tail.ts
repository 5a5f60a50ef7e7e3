/**
 * The most recent committed entries, kept in memory so that cursors which keep up never touch
 * the disk. Bounded by entries and bytes: what falls out is still in the segment files.
 */
import type { LogEntry } from './event-log.js';

export interface TailLimits {
  maxEntries: number;
  maxBytes: number;
}

export class MemoryTail {
  /** Held entries from index `head` on, in seq order; `sizes` runs alongside. */
  private entries: LogEntry[] = [];
  private sizes: number[] = [];
  private head = 0;
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
    this.entries.push(entry);
    this.sizes.push(bytes);
    this.bytes += bytes;
    // Always keep the newest entry, however large: the floor must stay below the last seq.
    while (this.held > this.limits.maxEntries || (this.bytes > this.limits.maxBytes && this.held > 1)) {
      this.evictOldest();
    }
  }

  /** Up to `max` entries with a seq above `seq` (which must be at or above the floor). */
  after(seq: number, max: number): LogEntry[] {
    const start = this.firstIndexAbove(seq);
    return this.entries.slice(start, start + max);
  }

  private get held(): number {
    return this.entries.length - this.head;
  }

  private evictOldest(): void {
    this.floorSeq = this.entries[this.head].seq;
    this.bytes -= this.sizes[this.head];
    this.head += 1;
    // Compact now and then rather than on every eviction: slicing each time would be O(n^2).
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Binary search: seqs are increasing but may have gaps. */
  private firstIndexAbove(seq: number): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle].seq <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
