/**
 * One destination's delivery loop over its cursor (docs/architecture.md): read a batch (up to
 * maxBatchSize, waiting at most writeFrequency ms; one event at a time when it is 0), build
 * the records, write them through the reject policy (batch-delivery.ts), ack. The next batch
 * is read and its records built while the current one is written: memory holds the batch in
 * flight and that one read-ahead, never the backlog, which stays in the log.
 */
import type { AuditDestination } from '../audit-destinations/destination.js';
import type { Cursor, LogEntry } from '../audit-journal/event-log.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { BatchDelivery, type DeliveryItem } from './batch-delivery.js';
import type { DeadLetterFile, DeadLetterRecord } from '../audit-destinations/dead-letter.js';
import type { AuditEventProcessor } from './processor.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

export interface DeliveryStatus {
  id: string;
  /** Events read from the log and not yet written or dead-lettered (in flight and read ahead). */
  buffered: number;
  /** Highest log seq below which this destination has written or dead-lettered everything. */
  checkpoint: number;
  written: number;
  /** Events moved to the dead-letter file. */
  rejected: number;
  /** Write attempts that failed and were retried. */
  failed: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  /** False while the last write attempt failed and its batch waits for a retry. */
  healthy: boolean;
  /** The wait before the pending retry, as computed (back-off, a server's Retry-After); null when none. */
  retryDelayMs: number | null;
}

export interface DeliveryLoopOptions {
  destination: AuditDestination;
  cursor: Cursor;
  processor: AuditEventProcessor;
  deadLetters: DeadLetterFile;
  logger: Logger;
  retry?: RetryPolicy;
  /** How long each write of a batch took (metrics). */
  wrote?(destinationId: string, seconds: number): void;
}

interface ReadBatch {
  items: DeliveryItem[];
  /** Entries whose record could not be built: dead-lettered with the reason. */
  unbuildable: DeadLetterRecord[];
}

export class DeliveryLoop {
  private readonly delivery: BatchDelivery;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Set by drain(): read what is there without waiting for batches to fill. */
  private draining = false;
  private readWake = new AbortController();
  private buffered = 0;
  private progressWaiters = new Set<() => void>();

  constructor(private readonly options: DeliveryLoopOptions) {
    const { destination, cursor } = options;
    this.delivery = new BatchDelivery({
      destinationId: destination.id,
      sink: destination.sink,
      maxBatchSize: destination.maxBatchSize,
      deadLetters: options.deadLetters,
      retry: options.retry ?? DEFAULT_RETRY_POLICY,
      logger: options.logger,
      wrote: options.wrote && ((seconds) => options.wrote?.(destination.id, seconds)),
      settled: (events) => {
        for (const { seq } of events) if (seq !== undefined) cursor.ack(seq);
        this.buffered -= events.length;
        for (const wake of this.progressWaiters) wake();
      },
    });
  }

  get id(): string {
    return this.options.destination.id;
  }

  start(): void {
    if (this.running) return;
    this.running = this.run().catch((error: unknown) => {
      // A bug, not a destination failure: say so loudly; the events stay in the log.
      this.options.logger.error(
        `${this.id}: delivery stopped by an unexpected error: ${errorMessage(error)}`,
      );
    });
    // The target just became ready (InfluxDB's startup hooks): a write waiting out a back-off goes now.
    void this.options.destination.ready?.then(() => this.delivery.retryNow());
  }

  /**
   * Writes everything up to `lastSeq` without waiting for batches to fill, until `deadline`
   * (epoch ms). Resolves whether it got there; the loop keeps running either way.
   */
  async drain(lastSeq: number, deadline: number): Promise<boolean> {
    this.draining = true;
    this.wakeReader();
    const reached = () => this.options.cursor.checkpoint >= lastSeq;
    if (reached()) return true;
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean) => {
        this.progressWaiters.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      const check = () => {
        if (reached()) finish(true);
      };
      const timer = setTimeout(() => finish(reached()), Math.max(0, deadline - Date.now()));
      this.progressWaiters.add(check);
    });
  }

  /** Stops reading and retrying at once; what is not written stays in the log for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.delivery.stop();
    this.wakeReader();
    await this.running;
  }

  status(): DeliveryStatus {
    const counters = this.delivery.counters;
    return {
      id: this.id,
      buffered: this.buffered,
      checkpoint: this.options.cursor.checkpoint,
      written: counters.written,
      rejected: counters.rejected,
      failed: counters.failed,
      lastError: counters.lastError,
      lastSuccessAt: counters.lastSuccessAt,
      healthy: counters.failuresInARow === 0,
      retryDelayMs: counters.retryDelayMs,
    };
  }

  private async run(): Promise<void> {
    let ahead = this.readBatch();
    for (;;) {
      const batch = await ahead;
      if (batch === null) return;
      ahead = this.readBatch();
      const done = await this.delivery.deliver(batch.items, batch.unbuildable);
      if (!done) {
        await ahead; // let a read in progress end; its entries stay unacked in the log
        return;
      }
    }
  }

  /** The next batch with its records, or null once the loop is stopped or the log closed. */
  private async readBatch(): Promise<ReadBatch | null> {
    const { destination, cursor } = this.options;
    const max = destination.writeFrequency === 0 ? 1 : destination.maxBatchSize;
    for (;;) {
      if (this.stopped) return null;
      const signal = this.readWake.signal;
      const entries = await cursor.next(max, {
        waitMs: this.draining ? 0 : destination.writeFrequency,
        signal,
      });
      if (entries.length > 0) {
        this.buffered += entries.length;
        return this.withRecords(entries);
      }
      if (!signal.aborted) return null; // the log was closed
    }
  }

  /** The entries' records, and the sink's own work on them (encoding) done ahead of its turn. */
  private async withRecords(entries: LogEntry[]): Promise<ReadBatch> {
    const batch: ReadBatch = { items: [], unbuildable: [] };
    for (const built of await this.options.processor.recordsFor(entries)) {
      const { seq, envelope } = built.entry;
      if ('record' in built) batch.items.push({ value: built.record, seq, envelope });
      else batch.unbuildable.push({ eventId: envelope.eventId, seq, reason: built.failure, envelope });
    }
    this.options.destination.sink.prepare?.(batch.items);
    return batch;
  }

  /** Ends a read's wait now (drain, stop); later reads get a fresh signal. */
  private wakeReader(): void {
    const previous = this.readWake;
    this.readWake = new AbortController();
    previous.abort();
  }
}
