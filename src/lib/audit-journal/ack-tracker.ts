/**
 * One destination's checkpoint: the highest seq below which every entry handed to it was
 * acked. It follows the order entries were handed out rather than seq + 1, because the journal
 * may skip seqs (a failed write, a destination that was already ahead), and a seq that never
 * reaches the destination must not hold its checkpoint back forever.
 */
import { SeqWindow } from './seq-window.js';

export class AckTracker {
  /** Seqs handed out and not yet passed by the checkpoint, oldest first. */
  private readonly outstanding = new SeqWindow<{ seq: number }>();
  private acked = new Set<number>();

  constructor(public checkpoint: number) {}

  handedOut(seqs: number[]): boolean {
    for (const seq of seqs) this.outstanding.push({ seq });
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
    let oldest = this.outstanding.oldest;
    while (oldest !== undefined && this.acked.delete(oldest.seq)) {
      this.checkpoint = oldest.seq;
      this.outstanding.dropOldest();
      oldest = this.outstanding.oldest;
    }
    return this.checkpoint !== before;
  }
}
