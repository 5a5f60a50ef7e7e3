/**
 * What every destination is (push-style: it knows nothing of the log), and what a sink
 * must provide (it only writes one batch; buffering, retries and acks are shared).
 */
import type { AuditRecord } from '../audit-events/types.js';

/** How a destination tells the log that one event is durably written. */
export interface Delivery {
  /** The event's sequence number in the event log. */
  seq: number;
  /** Called once the event is durably written (or dead-lettered). */
  ack(): void;
}

export interface DestinationStatus {
  id: string;
  /** Events held in memory, not yet written. */
  buffered: number;
  written: number;
  failed: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  /** False while the last write attempt failed and its batch waits for a retry. */
  healthy: boolean;
}

export interface AuditDestination {
  readonly id: string;
  /**
   * The highest log sequence number this destination found already written at start (the
   * Parquet files say so); the log starts its cursor after it, so no row is written twice.
   */
  readonly durableThrough?: number;
  /** Buffers one event; never throws for one bad event. */
  writeAuditEvent(record: AuditRecord, delivery?: Delivery): void;
  /** Writes what is buffered now; resolves when that batch is written (or given up to a retry). */
  flush(): Promise<void>;
  /**
   * Flushes, stops timers, releases clients. With a timeout it gives up after that long and
   * rejects; what is unwritten stays unacked in the log.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  status(): DestinationStatus;
}

/** One item as a sink sees it: the record plus its position in the log, when it has one. */
export interface BatchItem<T> {
  value: T;
  seq?: number;
}

export interface BatchSink<T> {
  /**
   * Writes the whole batch or throws. Throws TransientError to be retried with back-off,
   * PartialWriteError when a prefix of groups was already written durably.
   */
  write(batch: BatchItem<T>[]): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A sink wrote part of a batch durably before failing: the buffer acks the written items
 * and retries only the rest, so nothing is lost and nothing is written twice.
 */
export class PartialWriteError<T> extends Error {
  override readonly name = 'PartialWriteError';
  constructor(
    readonly remaining: BatchItem<T>[],
    override readonly cause: unknown,
  ) {
    super(`partial write: ${remaining.length} item(s) still to write`);
  }
}
