/**
 * The buffer every destination shares (OpenTelemetry's exporterhelper is the model): it owns
 * timers, size triggers, coalesced flushes, retries with back-off and acks, so that a sink
 * only has to know how to write one batch.
 *
 * Guarantees: items are written in the order they were added, a failed batch stays at the
 * head and is retried before anything behind it, at most one sink.write runs at a time, and
 * an item is acked only after the sink wrote it.
 */
import type { AuditRecord } from '../audit-events/types.js';
import { PermanentError, TransientError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  PartialWriteError,
  type AuditDestination,
  type BatchItem,
  type BatchSink,
  type Delivery,
  type DestinationStatus,
} from './destination.js';

interface RetryOptions {
  /** Wait before the first retry; doubles with every failure in a row. */
  initialDelayMs: number;
  /** Upper bound of the back-off (a server's Retry-After may ask for longer). */
  maxDelayMs: number;
}

export interface HybridBufferOptions<T> {
  id: string;
  maxBatchSize: number;
  /** ms between timed flushes; 0 writes every item on its own as soon as it is added. */
  writeFrequency: number;
  sink: BatchSink<T>;
  logger: Logger;
  retry?: Partial<RetryOptions>;
}

export interface CloseOptions {
  /** Give up waiting for a failing sink after this long; unwritten items stay unacked. */
  timeoutMs?: number;
}

const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 1000, maxDelayMs: 60000 };

/** Thrown by close() when its deadline passed before everything buffered was written. */
export class BufferCloseTimeoutError extends Error {
  override readonly name = 'BufferCloseTimeoutError';
}

interface BufferedEntry<T> {
  item: BatchItem<T>;
  delivery?: Delivery;
  /** Position in add order: a flush covers every entry added before it was requested. */
  ordinal: number;
}

/**
 * The longest Retry-After honoured. Beyond 2^31-1 ms setTimeout fires after 1 ms, which would
 * turn a server asking for a very long wait into a tight retry loop; an hour is long enough.
 */
const MAX_SERVER_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Exponential back-off with "equal jitter" (half fixed, half random), so that many
 * buffers failing together do not retry in lockstep, but never sooner than the server asked
 * (up to an hour).
 */
export function retryDelayMs(
  failuresInARow: number,
  retry: RetryOptions,
  error: unknown,
  random = Math.random,
): number {
  const exponential = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, failuresInARow - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  const serverMinimum = error instanceof TransientError ? (error.retryAfterMs ?? 0) : 0;
  return Math.round(Math.max(jittered, Math.min(serverMinimum, MAX_SERVER_RETRY_AFTER_MS)));
}

export class HybridBuffer<T> {
  private readonly retry: RetryOptions;
  /** Oldest first; the head batch stays here until the sink wrote it. */
  private queue: BufferedEntry<T>[] = [];
  private addedCount = 0;
  /** Every entry with an ordinal up to this one is due to be written now. */
  private flushThrough = 0;
  private pumping: Promise<void> = Promise.resolve();
  private pumpActive = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failuresInARow = 0;
  private emptyWaiters: Array<() => void> = [];
  private closing = false;
  private stopped = false;
  private written = 0;
  /** Failed write attempts (each is retried; nothing is dropped). */
  private failed = 0;
  private lastError: string | null = null;
  private lastSuccessAt: string | null = null;

  constructor(private readonly options: HybridBufferOptions<T>) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (options.writeFrequency > 0) {
      this.flushTimer = setInterval(() => void this.requestFlush(), options.writeFrequency);
      this.flushTimer.unref(); // a pending timed flush must not keep the process alive
    }
  }

  get size(): number {
    return this.queue.length;
  }

  /** Buffers one item; never throws. The delivery is acked once the item is written. */
  add(value: T, delivery?: Delivery): void {
    if (this.closing) {
      // Nothing will write it any more; leaving it unacked keeps it in the log for replay.
      this.options.logger.error(
        `${this.options.id}: an item arrived after close; it is not written and stays unacked`,
      );
      return;
    }
    const item: BatchItem<T> = delivery === undefined ? { value } : { value, seq: delivery.seq };
    this.queue.push({ item, delivery, ordinal: ++this.addedCount });
    if (this.options.writeFrequency === 0 || this.queue.length >= this.options.maxBatchSize) {
      void this.requestFlush();
    }
  }

  /** Writes what is buffered now; resolves when it is written or waits for a retry. */
  flush(): Promise<void> {
    return this.requestFlush();
  }

  /**
   * Cuts a pending back-off short: for when something says the target is back (its setup just
   * succeeded), so that events do not wait up to a full back-off interval for nothing.
   */
  retryNow(): void {
    if (this.retryTimer === null || this.stopped) return;
    this.clearRetryTimer();
    void this.requestFlush();
  }

  /**
   * Stops the timer and writes everything buffered, retrying as usual, then closes the sink.
   * With a timeout it gives up after that long and rejects; unwritten items stay unacked.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    this.closing = true;
    this.clearFlushTimer();
    void this.requestFlush();
    const drained = await this.waitUntilEmpty(options.timeoutMs);
    this.stopped = true;
    this.clearRetryTimer();
    await this.options.sink.close?.();
    if (!drained) {
      throw new BufferCloseTimeoutError(
        `${this.options.id}: ${this.queue.length} item(s) not written within ${options.timeoutMs} ms of close; ` +
          'they stay unacked and are written again after a restart',
      );
    }
  }

  status(): DestinationStatus {
    return {
      id: this.options.id,
      buffered: this.queue.length,
      written: this.written,
      failed: this.failed,
      lastError: this.lastError,
      lastSuccessAt: this.lastSuccessAt,
      healthy: this.failuresInARow === 0,
    };
  }

  /** Coalesces: while a pump runs, a new request only widens what that pump covers. */
  private requestFlush(): Promise<void> {
    this.flushThrough = this.addedCount;
    if (!this.pumpActive) this.pumping = this.pump();
    return this.pumping;
  }

  /**
   * The only caller of sink.write. `pumpActive` is set and cleared synchronously with the loop
   * condition, so a request arriving at any moment (even from inside sink.write or an ack)
   * either starts a new pump or is seen by the running one's next check: never lost, never a
   * second concurrent write.
   */
  private async pump(): Promise<void> {
    this.pumpActive = true;
    try {
      while (this.hasDueBatch()) {
        const batch = this.queue.slice(0, this.batchLimit());
        const succeeded = await this.writeBatch(batch);
        if (!succeeded) return;
      }
    } finally {
      this.pumpActive = false;
    }
  }

  /** A batch is due unless a retry is pending (it will pump itself) or the buffer stopped. */
  private hasDueBatch(): boolean {
    const head = this.queue[0];
    return (
      head !== undefined && head.ordinal <= this.flushThrough && this.retryTimer === null && !this.stopped
    );
  }

  /** writeFrequency 0 means one write per item, not "as soon as possible in batches". */
  private batchLimit(): number {
    return this.options.writeFrequency === 0 ? 1 : this.options.maxBatchSize;
  }

  private async writeBatch(batch: BufferedEntry<T>[]): Promise<boolean> {
    try {
      await this.options.sink.write(batch.map((entry) => entry.item));
    } catch (error) {
      if (!(error instanceof PartialWriteError)) {
        this.handleFailure(batch.length, error);
        return false;
      }
      const remaining = new Set(error.remaining);
      this.completeWritten(batch, remaining);
      this.handleFailure(remaining.size, error.cause);
      return false;
    }
    this.completeWritten(batch, new Set());
    this.failuresInARow = 0;
    return true;
  }

  /** Removes the written entries of the head batch and acks them in order; the rest stay at the head. */
  private completeWritten(batch: BufferedEntry<T>[], remaining: Set<BatchItem<T>>): void {
    const writtenEntries = batch.filter((entry) => !remaining.has(entry.item));
    const keptEntries = batch.filter((entry) => remaining.has(entry.item));
    this.queue = [...keptEntries, ...this.queue.slice(batch.length)];
    if (writtenEntries.length > 0) {
      this.written += writtenEntries.length;
      this.lastSuccessAt = new Date().toISOString();
      this.options.logger.debug(`${this.options.id}: wrote ${writtenEntries.length} item(s)`);
    }
    for (const entry of writtenEntries) this.ack(entry);
    if (this.queue.length === 0) this.notifyEmpty();
  }

  private ack(entry: BufferedEntry<T>): void {
    try {
      entry.delivery?.ack();
    } catch (error) {
      this.options.logger.error(
        { seq: entry.delivery?.seq, err: errorMessage(error) },
        `${this.options.id}: acknowledging item #${entry.delivery?.seq} failed`,
      );
    }
  }

  /**
   * Keeps the batch at the head and retries it later. A PermanentError is retried too, and
   * logged at error: it needs a human, and dropping audit data on it would lose events. No
   * server refusal reaches this point (the InfluxDB sink moves refused points to its
   * dead-letter file itself); Parquet's PermanentErrors are a date that cannot be a file name
   * and rows the encoder cannot encode, which mean a bug to fix, after which the retry succeeds.
   */
  private handleFailure(itemCount: number, error: unknown): void {
    this.failed += 1;
    this.failuresInARow += 1;
    this.lastError = errorMessage(error);
    const delayMs = retryDelayMs(this.failuresInARow, this.retry, error);
    const level = error instanceof PermanentError ? 'error' : 'warn';
    this.options.logger[level](
      { err: this.lastError, items: itemCount, failuresInARow: this.failuresInARow, retryInMs: delayMs },
      `${this.options.id}: write of ${itemCount} item(s) failed (${this.lastError}); retrying in ${delayMs} ms`,
    );
    this.scheduleRetry(delayMs);
  }

  /** Not unref()ed: unwritten data is a reason to keep the process alive (close() stops it). */
  private scheduleRetry(delayMs: number): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.requestFlush();
    }, delayMs);
  }

  private waitUntilEmpty(timeoutMs?: number): Promise<boolean> {
    if (this.queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const deadline = timeoutMs === undefined ? null : setTimeout(() => resolve(false), timeoutMs);
      this.emptyWaiters.push(() => {
        if (deadline) clearTimeout(deadline);
        resolve(true);
      });
    });
  }

  private notifyEmpty(): void {
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const wake of waiters) wake();
  }

  private clearFlushTimer(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
  }

  private clearRetryTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

/** An AuditDestination whose close() also takes a deadline. */
export type BufferedAuditDestination = AuditDestination & { close(options?: CloseOptions): Promise<void> };

/** The AuditDestination face of a buffer of records: what every destination hands out. */
export function bufferedAuditDestination(
  buffer: HybridBuffer<AuditRecord>,
  id: string,
): BufferedAuditDestination {
  return {
    id,
    writeAuditEvent: (record, delivery) => buffer.add(record, delivery),
    flush: () => buffer.flush(),
    close: (options?: CloseOptions) => buffer.close(options),
    status: () => buffer.status(),
  };
}
