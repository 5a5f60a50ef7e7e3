/**
 * The in-memory event log (`journal.enable: false`, and until the journal lands): a bounded
 * window of events that at least one destination has not yet acked. A crash or restart loses
 * what it holds; the durable journal does not.
 */
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError } from '../errors.js';
import type { Cursor, EventLog, LogBacklog, LogEntry } from './event-log.js';

/** Seconds a client is asked to wait when the log is full: destinations free room quickly. */
const FULL_RETRY_AFTER_SECONDS = 5;

class MemoryCursor implements Cursor {
  private acked = new Set<number>();
  checkpoint = 0;
  readPosition = 0;

  constructor(
    readonly destinationId: string,
    private readonly log: MemoryEventLog,
  ) {}

  next(max: number): Promise<LogEntry[]> {
    return this.log.read(this, max);
  }

  ack(seq: number): void {
    if (seq <= this.checkpoint) return;
    this.acked.add(seq);
    while (this.acked.delete(this.checkpoint + 1)) this.checkpoint += 1;
    this.log.release();
  }
}

export class MemoryEventLog implements EventLog {
  /** Entries from index `head` on are held; those before it were acked by every cursor. */
  private entries: LogEntry[] = [];
  private head = 0;
  private cursors: MemoryCursor[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;
  lastSeq = 0;

  constructor(private readonly capacity: number) {}

  async append(envelope: AuditEnvelope): Promise<number> {
    if (this.closed) throw new ServiceUnavailableError('shutting down', FULL_RETRY_AFTER_SECONDS);
    if (this.held >= this.capacity) {
      throw new ServiceUnavailableError(
        `event queue full (${this.capacity} events waiting for destinations)`,
        FULL_RETRY_AFTER_SECONDS,
      );
    }
    this.lastSeq += 1;
    if (this.cursors.length > 0) this.entries.push({ seq: this.lastSeq, envelope });
    this.wakeReaders();
    return this.lastSeq;
  }

  openCursor(destinationId: string): Cursor {
    const cursor = new MemoryCursor(destinationId, this);
    this.cursors.push(cursor);
    return cursor;
  }

  /** @internal used by MemoryCursor */
  async read(cursor: MemoryCursor, max: number): Promise<LogEntry[]> {
    while (!this.closed && cursor.readPosition >= this.lastSeq) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const firstSeq = this.entries[this.head]?.seq ?? this.lastSeq + 1;
    const start = this.head + cursor.readPosition + 1 - firstSeq;
    const batch = this.entries.slice(start, start + max);
    cursor.readPosition += batch.length;
    return batch;
  }

  /** @internal drops entries every cursor has acked. */
  release(): void {
    const lowest = Math.min(...this.cursors.map((cursor) => cursor.checkpoint));
    while (this.head < this.entries.length && this.entries[this.head].seq <= lowest) this.head += 1;
    // Compact now and then rather than on every ack: slicing per ack would be O(n^2).
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  private get held(): number {
    return this.entries.length - this.head;
  }

  backlog(): LogBacklog {
    return {
      kind: 'memory',
      entries: this.held,
      capacity: this.capacity,
      lastSeq: this.lastSeq,
      checkpoints: Object.fromEntries(this.cursors.map((cursor) => [cursor.destinationId, cursor.checkpoint])),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeReaders();
  }

  private wakeReaders(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
