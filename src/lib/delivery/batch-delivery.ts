/**
 * The one reject policy, the same for every sink: a batch is written until each of its items
 * is written or dead-lettered. Failures that time or a setting may fix are retried after a
 * back-off (never sooner than a server's Retry-After), keeping every item; items the
 * destination refuses are narrowed down by progressive batch sizes (maxBatchSize, 500, 250,
 * 100, 10, 1), appended with the reason to the dead-letter file, and only then settled, so
 * that one bad event never blocks the events behind it and is never silently lost.
 */
import type { AuditEnvelope } from '../audit-events/types.js';
import type { BatchItem, Rejection, Sink, WriteResult } from '../audit-destinations/sink.js';
import { ConfigurationError, RefusedBatchError, TransientError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  deadLetterRecordOf,
  type DeadLetterFile,
  type DeadLetterRecord,
} from '../audit-destinations/dead-letter.js';
import { retryDelayMs, waitUnlessAborted, type RetryPolicy } from './retry.js';

/** A batch item as delivery knows it: the sink's item plus the envelope it was built from. */
export interface DeliveryItem extends BatchItem {
  readonly envelope?: AuditEnvelope;
}

/** The dead-letter record of a rejected item. */
function refusalOf(rejection: Rejection): DeadLetterRecord {
  return deadLetterRecordOf(rejection, (rejection.item as DeliveryItem).envelope);
}

/** The seeds' progressive batch sizes, after the configured maxBatchSize. */
const ISOLATION_STEPS = [500, 250, 100, 10, 1];

/** A configuration problem is logged at most this often (the events are kept and retried). */
const CONFIGURATION_LOG_INTERVAL_MS = 60_000;

export interface DeliveryCounters {
  written: number;
  /** Items dead-lettered. */
  rejected: number;
  /** Write attempts that failed and were retried. */
  failed: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  failuresInARow: number;
  /** The wait before the pending retry, as computed (back-off, Retry-After); null when none is pending. */
  retryDelayMs: number | null;
}

export interface BatchDeliveryOptions {
  destinationId: string;
  sink: Sink;
  maxBatchSize: number;
  deadLetters: DeadLetterFile;
  retry: RetryPolicy;
  logger: Logger;
  /** Events durably written or dead-lettered: they may leave the event log. */
  settled(events: readonly { seq?: number }[]): void;
  /** How long each sink.write took, whatever its outcome (metrics). */
  wrote?(seconds: number): void;
  now?: () => number;
}

/** The next, smaller batch size to try for a refused chunk of `length` items. */
function nextIsolationSize(length: number, maxBatchSize: number): number {
  return [maxBatchSize, ...ISOLATION_STEPS].find((size) => size < length) ?? 1;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

export class BatchDelivery {
  readonly counters: DeliveryCounters = {
    written: 0,
    rejected: 0,
    failed: 0,
    lastError: null,
    lastSuccessAt: null,
    failuresInARow: 0,
    retryDelayMs: null,
  };
  private wake = new AbortController();
  private stopped = false;
  private lastConfigurationLogAt = -Infinity;

  constructor(private readonly options: BatchDeliveryOptions) {}

  /**
   * Writes `items` (and dead-letters `refused`, entries that never became records) until
   * every one is settled; false when stop() came first, leaving the rest unsettled.
   */
  async deliver(items: readonly DeliveryItem[], refused: DeadLetterRecord[] = []): Promise<boolean> {
    if (refused.length > 0 && !(await this.deadLetterUntilDone(refused))) return false;
    let pending = items;
    while (pending.length > 0) {
      if (this.stopped) return false;
      const { kept, failure } = await this.writeOnce(pending);
      if (kept.length === 0) {
        this.recovered();
        return true;
      }
      if (failure instanceof RefusedBatchError) return this.isolate(kept, failure);
      await this.backOff(failure, kept.length);
      pending = kept;
    }
    return true;
  }

  /** An administrator who saw the failures at warn learns at info that they are over. */
  private recovered(): void {
    const failures = this.counters.failuresInARow;
    if (failures === 0) return;
    this.counters.failuresInARow = 0;
    this.options.logger.info(
      `${this.options.destinationId}: writing again after ${failures} failed attempt(s); the events kept meanwhile follow`,
    );
  }

  /** Cuts a pending back-off short: the target just became ready. */
  retryNow(): void {
    const previous = this.wake;
    this.wake = new AbortController();
    previous.abort();
  }

  /** Ends every wait and retry at once; what is not settled stays in the event log. */
  stop(): void {
    this.stopped = true;
    this.wake.abort();
  }

  /** One sink.write; settles what was written and dead-letters what was rejected. */
  private async writeOnce(
    pending: readonly DeliveryItem[],
  ): Promise<{ kept: DeliveryItem[]; failure?: unknown }> {
    let result: WriteResult;
    const started = performance.now();
    try {
      result = await this.options.sink.write(pending);
    } catch (error) {
      result = { rejected: [], kept: [...pending], failure: error };
    }
    this.options.wrote?.((performance.now() - started) / 1000);
    const kept = new Set<BatchItem>(result.kept);
    const rejected = new Set<BatchItem>(result.rejected.map((rejection) => rejection.item));
    const written = pending.filter((item) => !kept.has(item) && !rejected.has(item));
    if (written.length > 0) {
      this.counters.written += written.length;
      this.counters.lastSuccessAt = new Date(this.now()).toISOString();
      this.options.logger.debug(`${this.options.destinationId}: wrote ${written.length} event(s)`);
      this.options.settled(written);
    }
    let failure =
      result.failure ??
      (kept.size > 0 ? new TransientError('the sink kept events without a reason') : undefined);
    if (result.rejected.length > 0) {
      try {
        await this.deadLetter(result.rejected.map(refusalOf));
      } catch (error) {
        // Kept unsettled: written again, refused again, dead-lettered again once there is room.
        for (const item of rejected) kept.add(item);
        failure = new TransientError(
          `could not write the dead-letter file: ${errorMessage(error)}`,
          undefined,
          {
            cause: error,
          },
        );
      }
    }
    return { kept: pending.filter((item) => kept.has(item)), failure };
  }

  /**
   * The destination refused something in `kept` without saying what: a single item is the
   * refused one; a larger chunk is split by the progressive sizes and each part delivered
   * in order, so rows reach the destination in log order (Parquet's exactly-once rests on it).
   */
  private async isolate(kept: DeliveryItem[], refusal: RefusedBatchError): Promise<boolean> {
    this.counters.failuresInARow = 0;
    if (kept.length === 1) {
      return this.deadLetterUntilDone([
        refusalOf({ item: kept[0], reason: refusal.reason, ...refusal.details }),
      ]);
    }
    for (const chunk of chunks(kept, nextIsolationSize(kept.length, this.options.maxBatchSize))) {
      if (!(await this.deliver(chunk))) return false;
    }
    return true;
  }

  private async deadLetterUntilDone(records: DeadLetterRecord[]): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      try {
        await this.deadLetter(records);
        return true;
      } catch (error) {
        await this.backOff(
          new TransientError(`could not write the dead-letter file: ${errorMessage(error)}`),
          records.length,
        );
      }
    }
  }

  /** Appends durably, then settles: a dead-lettered event leaves the log only once it is on disk. */
  private async deadLetter(records: DeadLetterRecord[]): Promise<void> {
    await this.options.deadLetters.append(records);
    this.counters.rejected += records.length;
    for (const record of records) {
      this.options.logger.error(
        `${this.options.destinationId} refused event ${record.eventId} (${record.reason}); moved to the dead-letter file`,
      );
    }
    this.options.settled(records);
  }

  private async backOff(failure: unknown, itemCount: number): Promise<void> {
    const counters = this.counters;
    counters.failed += 1;
    counters.failuresInARow += 1;
    counters.lastError = errorMessage(failure);
    const delayMs = retryDelayMs(counters.failuresInARow, this.options.retry, failure);
    this.logFailure(failure, itemCount, delayMs);
    counters.retryDelayMs = delayMs;
    await waitUnlessAborted(delayMs, this.wake.signal);
    counters.retryDelayMs = null;
  }

  private logFailure(failure: unknown, itemCount: number, delayMs: number): void {
    const { destinationId, logger } = this.options;
    if (failure instanceof ConfigurationError) {
      const now = this.now();
      if (now - this.lastConfigurationLogAt < CONFIGURATION_LOG_INTERVAL_MS) return;
      this.lastConfigurationLogAt = now;
      logger.error(
        `${destinationId}: write refused (${failure.message}): ${failure.fix}. Events are kept and retried; none are dropped.`,
      );
      return;
    }
    logger.warn(
      `${destinationId}: write of ${itemCount} event(s) failed (${this.counters.lastError}); retrying in ${delayMs} ms`,
    );
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
