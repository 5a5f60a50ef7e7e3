/**
 * The in-memory event log (`journal.enable: false`, and until the journal lands): a bounded
 * window of events that at least one destination has not yet acked. A crash or restart loses
 * what it holds; the durable journal does not.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError } from '../errors.js';
import { AckTracker } from './ack-tracker.js';
import { SeqWindow } from './seq-window.js';
import {
  RETRY_AFTER_SECONDS,
  type Cursor,
  type EventLog,
  type LogBacklog,
  type LogEntry,
  type OpenCursorOptions,
} from './event-log.js';

class MemoryCursor implements Cursor {
  readPosition: number;
  private readonly acks: AckTracker;

  constructor(
    readonly destinationId: string,
    private readonly log: MemoryEventLog,
    start: number,
  ) {
    this.readPosition = start;
    this.acks = new AckTracker(start);
  }

  get checkpoint(): number {
    return this.acks.checkpoint;
  }

  async next(max: number): Promise<LogEntry[]> {
    const batch = await this.log.read(this.readPosition, max);
    if (batch.length === 0) return batch;
    this.readPosition = batch[batch.length - 1].seq;
    if (this.acks.handedOut(batch.map((entry) => entry.seq))) this.log.release();
    return batch;
  }

  ack(seq: number): void {
    if (this.acks.ack(seq)) this.log.release();
  }
}

export class MemoryEventLog implements EventLog {
  /** A memory log starts empty in every process: its seqs are its own. */
  readonly id = randomUUID();
  /** Entries some cursor has not acked yet, in seq order. */
  private readonly entries = new SeqWindow<LogEntry>();
  private cursors: MemoryCursor[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;
  /** Highest seq appended. */
  lastSeq = 0;
  /** Seqs up to here are taken by a cursor that started ahead: new entries get higher ones. */
  private takenSeq = 0;

  constructor(private readonly capacity: number) {}

  async append(envelope: AuditEnvelope): Promise<number> {
    if (this.closed) throw new ServiceUnavailableError('shutting down', RETRY_AFTER_SECONDS);
    if (this.entries.size >= this.capacity) {
      throw new ServiceUnavailableError(
        `event queue full (${this.capacity} events waiting for destinations)`,
        RETRY_AFTER_SECONDS,
      );
    }
    this.lastSeq = Math.max(this.lastSeq, this.takenSeq) + 1;
    if (this.cursors.length > 0) this.entries.push({ seq: this.lastSeq, envelope });
    this.wakeReaders();
    return this.lastSeq;
  }

  /**
   * Starts after max(`atLeast`, the entry before the oldest held): a cursor opened late gets
   * what is still held, the rest is gone. Like the journal, numbering continues after a
   * destination that is ahead, so it never skips a new entry.
   */
  openCursor(destinationId: string, options: OpenCursorOptions = {}): Cursor {
    const oldestHeld = this.entries.oldest?.seq ?? this.lastSeq + 1;
    const start = Math.max(options.atLeast ?? 0, oldestHeld - 1);
    this.takenSeq = Math.max(this.takenSeq, start);
    const cursor = new MemoryCursor(destinationId, this, start);
    this.cursors.push(cursor);
    return cursor;
  }

  /** @internal used by MemoryCursor: up to `max` entries above `after`, waiting for one. */
  async read(after: number, max: number): Promise<LogEntry[]> {
    while (!this.closed && !this.entries.hasAfter(after)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.entries.after(after, max);
  }

  /** @internal drops entries every cursor has acked. */
  release(): void {
    this.entries.dropThrough(Math.min(...this.cursors.map((cursor) => cursor.checkpoint)));
  }

  backlog(): LogBacklog {
    return {
      kind: 'memory',
      entries: this.entries.size,
      capacity: this.capacity,
      lastSeq: this.lastSeq,
      checkpoints: Object.fromEntries(
        this.cursors.map((cursor) => [cursor.destinationId, cursor.checkpoint]),
      ),
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
