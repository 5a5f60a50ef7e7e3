/**
 * The event log: where an accepted event waits until every destination has written it. Two
 * implementations keep this contract: the durable journal (journal.ts) and, with the journal
 * off, the in-memory log (memory-log.ts). The log knows envelopes and sequence numbers only;
 * records, sinks and delivery live below it and read it through cursors.
 */
import type { AuditEnvelope } from '../audit-events/types.js';

/** Seconds a client is asked to wait when the log is full or failing: destinations free room quickly. */
export const RETRY_AFTER_SECONDS = 5;

export interface LogEntry {
  seq: number;
  envelope: AuditEnvelope;
  /** Only these destinations read it (an event replayed from a dead-letter file); all when absent. */
  destinations?: readonly string[];
}

export interface ReadOptions {
  /**
   * Once one entry is there, how long to wait for `max` of them before returning fewer
   * (a destination's writeFrequency); 0 returns what is there at once.
   */
  waitMs?: number;
  /** Ends any wait at once: next() then returns what is there, possibly nothing. */
  signal?: AbortSignal;
}

export interface Cursor {
  readonly destinationId: string;
  /**
   * Up to `max` entries after the last one read. Waits for the first one as long as it takes,
   * then up to `waitMs` for the batch to fill. [] once the log is closed or `signal` aborts.
   */
  next(max: number, options?: ReadOptions): Promise<LogEntry[]>;
  /** Marks one entry as durably written (or dead-lettered); the checkpoint is the highest contiguous acked seq. */
  ack(seq: number): void;
  /** Highest seq below which everything is acked. */
  readonly checkpoint: number;
  /** Highest seq handed out by next(). */
  readonly readPosition: number;
}

export interface LogBacklog {
  kind: 'memory' | 'journal';
  /** Entries held because at least one destination has not acked them. */
  entries: number;
  capacity: number;
  lastSeq: number;
  checkpoints: Record<string, number>;
  /** Bytes on disk (the journal; capacity is then in bytes too). */
  bytes?: number;
}

export interface OpenCursorOptions {
  /** The destination already holds everything up to this seq (Parquet reads it from its files). */
  atLeast?: number;
}

export interface EventLog {
  /**
   * Which log the seqs belong to: stable across restarts for the journal, new per process for
   * the memory log. A destination storing seqs stores this with them, so that seqs of another
   * log are never taken for this one's.
   */
  readonly id: string;
  /** Appends an accepted envelope; resolves with its seq once it is held (durably, for the journal). */
  append(envelope: AuditEnvelope): Promise<number>;
  /** One cursor per destination; it starts after max(stored checkpoint, atLeast). */
  openCursor(destinationId: string, options?: OpenCursorOptions): Cursor;
  readonly lastSeq: number;
  backlog(): LogBacklog;
  /** Wakes every waiting cursor with []; later appends are refused. */
  close(): Promise<void>;
}
