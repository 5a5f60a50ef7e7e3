/**
 * Where cursors wait for the log to grow: the highest committed seq, and wake-ups when it
 * moves, when a reader's deadline passes or its signal aborts, or when the log closes. Shared
 * by the journal and the in-memory log, so both wait the same way.
 */
import type { ReadOptions } from './event-log.js';

export type WaitOutcome = 'reached' | 'timeout' | 'aborted' | 'closed';

interface Waiter {
  target: number;
  settle(outcome: WaitOutcome): void;
}

export class CommitSignal {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(private committed: number) {}

  /** Highest seq readers may see. */
  get lastSeq(): number {
    return this.committed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Entries up to `seq` are committed: wakes the readers waiting for them. */
  advance(seq: number): void {
    this.committed = seq;
    for (const waiter of this.waiters) if (waiter.target <= seq) waiter.settle('reached');
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters) waiter.settle('closed');
  }

  /** Resolves once `seq` is committed, or with why not: the deadline (epoch ms), the signal, close. */
  waitFor(seq: number, options: { deadline?: number; signal?: AbortSignal } = {}): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (this.committed >= seq) return Promise.resolve('reached');
    if (options.signal?.aborted) return Promise.resolve('aborted');
    if (options.deadline !== undefined && options.deadline <= Date.now()) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => waiter.settle('aborted');
      const waiter: Waiter = {
        target: seq,
        settle: (outcome) => {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      this.waiters.add(waiter);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.deadline !== undefined) {
        timer = setTimeout(() => waiter.settle('timeout'), options.deadline - Date.now());
      }
    });
  }

  /**
   * The batching rule of every cursor: wait as long as it takes for one entry after `after`,
   * then up to `waitMs` for `max` of them. False when there is nothing to read (closed, aborted).
   */
  async waitForBatch(after: number, max: number, options: ReadOptions = {}): Promise<boolean> {
    const first = await this.waitFor(after + 1, { signal: options.signal });
    if (first !== 'reached') return false;
    const waitMs = options.waitMs ?? 0;
    if (waitMs > 0 && max > 1) {
      await this.waitFor(after + max, { deadline: Date.now() + waitMs, signal: options.signal });
    }
    return !this.closed;
  }
}
