/**
 * Turns log entries into records: runs each event's handler once and builds its record once,
 * however many destinations read it (they share the record), with at most
 * `queue.maxConcurrent` handlers at a time (screenshot downloads are network-bound).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import {
  computeHandlerExtras,
  createAuditEventHandlers,
  type AuditEventHandler,
  type HandlerDeps,
  type HandlerOptions,
} from '../audit-events/handlers.js';
import { toAuditRecord, type RecordOptions } from '../audit-events/record.js';
import type { AuditEnvelope, AuditRecord, HandlerExtras } from '../audit-events/types.js';
import type { LogEntry } from '../audit-journal/event-log.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';

const NO_EXTRAS: HandlerExtras = Object.freeze({});

interface SharedRecord {
  record: Promise<AuditRecord>;
  /** Destinations that have not yet taken this event's record. */
  readersLeft: number;
}

/** An entry's record, or why it could not be built (it is then dead-lettered with that reason). */
export type BuiltRecord = { entry: LogEntry; record: AuditRecord } | { entry: LogEntry; failure: string };

export interface AuditEventProcessorOptions {
  maxConcurrent: number;
  /** How many destinations read each event. */
  readers: number;
  /**
   * Records kept for destinations that have not read an event yet. A destination far behind
   * (its server down) would otherwise make this grow without bound; past it, its record is
   * built again when it gets there (handlers are idempotent and the mapping is pure).
   */
  maxShared: number;
  /** How records are built (the envelope kept as text when Parquet keeps it). */
  record?: RecordOptions;
  logger: Logger;
  /** What handlers are made with besides the logger (the screenshot saver). */
  handlerDeps?: HandlerOptions;
}

export class AuditEventProcessor {
  private readonly limit: LimitFunction;
  private readonly shared = new Map<number, SharedRecord>();
  private readonly handlers: ReadonlyMap<string, AuditEventHandler>;
  private readonly handlerDeps: HandlerDeps;

  constructor(private readonly options: AuditEventProcessorOptions) {
    this.limit = pLimit(options.maxConcurrent);
    this.handlerDeps = { logger: options.logger };
    this.handlers = createAuditEventHandlers(options.handlerDeps);
  }

  /** Type handlers running now (waiting ones not counted). */
  get handlersRunning(): number {
    return this.limit.activeCount;
  }

  /** The records of a batch; handlers run concurrently, at most maxConcurrent at once. */
  async recordsFor(entries: readonly LogEntry[]): Promise<BuiltRecord[]> {
    return Promise.all(
      entries.map((entry) =>
        this.recordFor(entry).then(
          (record): BuiltRecord => ({ entry, record }),
          (error: unknown): BuiltRecord => ({
            entry,
            failure: `could not build the record: ${errorMessage(error)}`,
          }),
        ),
      ),
    );
  }

  /** processAuditEventEnvelope(), as the seeds name it: the handler stage of one event. */
  processAuditEventEnvelope(envelope: AuditEnvelope): Promise<HandlerExtras> {
    if (!this.handlers.has(envelope.type)) return Promise.resolve(NO_EXTRAS);
    return this.limit(() => computeHandlerExtras(this.handlers, envelope, this.handlerDeps));
  }

  /**
   * The record for one entry, shared by every destination that reads it while it is held. An
   * entry replayed from a dead-letter file is read only by the destinations it names: counting
   * the others would keep its record until evicted, pushing out records still to be read.
   */
  private recordFor(entry: LogEntry): Promise<AuditRecord> {
    const readers = entry.destinations?.length ?? this.options.readers;
    if (readers <= 1) return this.buildRecord(entry.envelope);
    let shared = this.shared.get(entry.seq);
    if (!shared) {
      shared = { record: this.buildRecord(entry.envelope), readersLeft: readers };
      this.shared.set(entry.seq, shared);
      if (this.shared.size > this.options.maxShared)
        this.shared.delete(this.shared.keys().next().value as number);
    }
    shared.readersLeft -= 1;
    if (shared.readersLeft <= 0) this.shared.delete(entry.seq);
    return shared.record;
  }

  private async buildRecord(envelope: AuditEnvelope): Promise<AuditRecord> {
    return toAuditRecord(envelope, await this.processAuditEventEnvelope(envelope), this.options.record);
  }
}
