/**
 * Group commit: appends that arrive within a short window, or while the previous commit is
 * still writing and syncing, are handed to `commit` together, so that one write and one
 * fdatasync serve them all. Commits never overlap, so records reach the file in seq order.
 */
export interface GroupCommitOptions<T> {
  /** How long the first append of a group waits for others to join it. */
  windowMs: number;
  /** Most items in one group (1 = a commit per item: fsync 'always'). */
  maxGroup: number;
  /** Most bytes in one group (`sizeOf` each item); a single larger item still goes alone. */
  maxGroupBytes: number;
  sizeOf(item: T): number;
}

export class GroupCommitter<T> {
  private pending: T[] = [];
  /** Cancels the scheduled start of the next group, while one is scheduled. */
  private cancelScheduled: (() => void) | null = null;
  private inFlight: Promise<void> | null = null;

  /** @param commit writes one group; it settles every item itself and never rejects. */
  constructor(
    private readonly commit: (group: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions<T>,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (!this.inFlight) this.cancelScheduled ??= this.schedule(() => this.startNext());
  }

  /** Resolves once every item added so far is committed. */
  async drain(): Promise<void> {
    while (this.cancelScheduled || this.inFlight) {
      if (this.cancelScheduled) this.startNext();
      await this.inFlight;
    }
  }

  private startNext(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = null;
    const group = this.pending.splice(0, this.groupLength());
    if (group.length === 0) return;
    this.inFlight = this.commit(group).finally(() => {
      this.inFlight = null;
      // What queued up during this commit has already waited long enough: no new window.
      this.startNext();
    });
  }

  /** How many pending items the next group takes: at least one, then as many as the limits allow. */
  private groupLength(): number {
    let bytes = 0;
    let length = 0;
    for (const item of this.pending) {
      bytes += this.options.sizeOf(item);
      if (length >= this.options.maxGroup || (length > 0 && bytes > this.options.maxGroupBytes)) break;
      length += 1;
    }
    return length;
  }

  /** A window of 0 still lets every append of the current turn of the event loop join. */
  private schedule(start: () => void): () => void {
    if (this.options.windowMs === 0) {
      const immediate = setImmediate(start);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(start, this.options.windowMs);
    return () => clearTimeout(timer);
  }
}
