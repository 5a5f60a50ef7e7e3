/**
 * The in-memory event log (`journal.enable: false`): a bounded window of events that at least
 * one destination has not yet acked. A crash or restart loses what it holds; the durable
 * journal does not.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError } from '../errors.js';
import { AckTracker } from './ack-tracker.js';
import { CommitSignal } from './commit-signal.js';
import {
  RETRY_AFTER_SECONDS,
  type Cursor,
  type EventLog,
  type LogBacklog,
  type LogEntry,
  type OpenCursorOptions,
  type ReadOptions,
} from './event-log.js';
import { SeqWindow } from './seq-window.js';

class MemoryCursor implements Cursor {
  readPosition: number;
  private readonly acks: AckTracker;

  /** @param progressed called when the checkpoint moved: the log may drop what every cursor acked. */
  constructor(
    readonly destinationId: string,
    start: number,
    private readonly entries: SeqWindow<LogEntry>,
    private readonly committed: CommitSignal,
    private readonly progressed: () => void,
  ) {
    this.readPosition = start;
    this.acks = new AckTracker(start);
  }

  get checkpoint(): number {
    return this.acks.checkpoint;
  }

  async next(max: number, options?: ReadOptions): Promise<LogEntry[]> {
    if (!(await this.committed.waitForBatch(this.readPosition, max, options))) return [];
    const batch = this.entries.after(this.readPosition, max);
    if (batch.length === 0) return batch;
    this.readPosition = batch[batch.length - 1].seq;
    if (this.acks.handedOut(batch.map((entry) => entry.seq))) this.progressed();
    return batch;
  }

  ack(seq: number): void {
    if (this.acks.ack(seq)) this.progressed();
  }
}

export class MemoryEventLog implements EventLog {
  /** A memory log starts empty in every process: its seqs are its own. */
  readonly id = randomUUID();
  /** Entries some cursor has not acked yet, in seq order. */
  private readonly entries = new SeqWindow<LogEntry>();
  private readonly committed = new CommitSignal(0);
  private cursors: MemoryCursor[] = [];
  /** Seqs up to here are taken by a cursor that started ahead: new entries get higher ones. */
  private takenSeq = 0;

  constructor(private readonly capacity: number) {}

  /** Highest seq appended. */
  get lastSeq(): number {
    return this.committed.lastSeq;
  }

  async append(envelope: AuditEnvelope): Promise<number> {
    if (this.committed.isClosed) throw new ServiceUnavailableError('shutting down', RETRY_AFTER_SECONDS);
    if (this.entries.size >= this.capacity) {
      throw new ServiceUnavailableError(
        `event queue full (${this.capacity} events waiting for destinations)`,
        RETRY_AFTER_SECONDS,
      );
    }
    const seq = Math.max(this.lastSeq, this.takenSeq) + 1;
    if (this.cursors.length > 0) this.entries.push({ seq, envelope });
    this.committed.advance(seq);
    return seq;
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
    const cursor = new MemoryCursor(destinationId, start, this.entries, this.committed, () => this.release());
    this.cursors.push(cursor);
    return cursor;
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
    this.committed.close();
  }

  /** Drops the entries every cursor has acked. */
  private release(): void {
    this.entries.dropThrough(Math.min(...this.cursors.map((cursor) => cursor.checkpoint)));
  }
}
