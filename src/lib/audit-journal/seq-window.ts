/**
 * An in-memory window of entries in increasing seq order (gaps allowed): appended at the end,
 * dropped from the front, read after any seq by binary search. Shared by the in-memory log
 * and the journal's memory tail.
 */
export class SeqWindow<T extends { seq: number }> {
  /** Held entries from index `head` on; those before it were dropped. */
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  get oldest(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Removes and returns the oldest entry. */
  dropOldest(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.head += 1;
    // Compact now and then rather than on every drop: slicing each time would be O(n^2).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Drops every entry with a seq at or below `seq`. */
  dropThrough(seq: number): void {
    while (this.oldest !== undefined && this.oldest.seq <= seq) this.dropOldest();
  }

  /** Up to `max` entries with a seq above `seq`. */
  after(seq: number, max: number): T[] {
    const start = this.firstIndexAbove(seq);
    return this.items.slice(start, start + max);
  }

  /** Whether an entry with a seq above `seq` is held. */
  hasAfter(seq: number): boolean {
    return this.firstIndexAbove(seq) < this.items.length;
  }

  private firstIndexAbove(seq: number): number {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.items[middle].seq <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
