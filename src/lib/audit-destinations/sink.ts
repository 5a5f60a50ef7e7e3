/**
 * What a destination is to the delivery loop: a sink that writes one batch and says what
 * happened to each item. Batching, retries, back-off, dead letters and acks are the loop's
 * (src/lib/delivery/), the same for every destination; a sink knows nothing of the log.
 */
import type { AuditRecord } from '../audit-events/types.js';

/** One item of a batch: the record, and its place in the event log when it has one. */
export interface BatchItem<T = AuditRecord> {
  readonly value: T;
  readonly seq?: number;
}

/** An item the destination will never accept, and why (kept in the dead-letter file). */
export interface Rejection<T = AuditRecord> {
  item: BatchItem<T>;
  reason: string;
  status?: number;
  /** What was sent for it, when that helps a reader (a line of line protocol). */
  payload?: string;
}

/**
 * The outcome of one write. Every item of the batch is in exactly one of three places:
 * written (every item not named below), `rejected`, or `kept` to be tried again because of
 * `failure`: a TransientError or ConfigurationError (retried after a back-off), or a
 * RefusedBatchError (the destination refused something in `kept` without saying what: the
 * loop narrows it down). A sink may also throw, which means the whole batch is kept.
 */
export interface WriteResult<T = AuditRecord> {
  rejected: Rejection<T>[];
  kept: BatchItem<T>[];
  failure?: unknown;
}

export interface Sink<T = AuditRecord> {
  /** One batch, in order; at most one write of a sink runs at a time. */
  write(batch: readonly BatchItem<T>[]): Promise<WriteResult<T>>;
  /**
   * Optional work on a batch before its turn, such as encoding it: the loop calls it for the
   * batch it read ahead, while the one before is being written, so that the two overlap.
   * It writes nothing; write() may get that batch (or a part of it) later, or never.
   */
  prepare?(batch: readonly BatchItem<T>[]): void;
  close(): Promise<void>;
}

/** The result of a write that stored every item. */
export function allWritten<T>(): WriteResult<T> {
  return { rejected: [], kept: [] };
}

/** The result of a write that stored `written` items first, then stopped on `failure`. */
export function writtenUntil<T>(
  batch: readonly BatchItem<T>[],
  written: number,
  failure: unknown,
): WriteResult<T> {
  return { rejected: [], kept: batch.slice(written), failure };
}
