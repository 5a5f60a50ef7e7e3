/**
 * One destination's checkpoint: the highest seq below which every entry handed to it was
 * acked. It follows the order entries were handed out rather than seq + 1, because the journal
 * may skip seqs (a failed write, a destination that was already ahead), and a seq that never
 * reaches the destination must not hold its checkpoint back forever.
 */
export class AckTracker {
  /** Seqs handed out and not yet passed by the checkpoint, oldest first, from index `head`. */
  private outstanding: number[] = [];
  private head = 0;
  private acked = new Set<number>();

  constructor(public checkpoint: number) {}

  handedOut(seqs: number[]): boolean {
    for (const seq of seqs) this.outstanding.push(seq);
    return this.advance();
  }

  /** Returns whether the checkpoint moved. Acks may arrive in any order. */
  ack(seq: number): boolean {
    if (seq <= this.checkpoint) return false;
    this.acked.add(seq);
    return this.advance();
  }

  private advance(): boolean {
    const before = this.checkpoint;
    while (this.head < this.outstanding.length && this.acked.delete(this.outstanding[this.head])) {
      this.checkpoint = this.outstanding[this.head];
      this.head += 1;
    }
    // Compact now and then rather than on every ack: slicing per ack would be O(n^2).
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head);
      this.head = 0;
    }
    return this.checkpoint !== before;
  }
}
