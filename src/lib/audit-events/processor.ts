/**
 * Turns log entries into records: runs each event's handler once and builds its record once,
 * however many destinations read it (they share the record), with at most
 * `queue.maxConcurrent` handlers at a time (screenshot downloads are network-bound).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { LogEntry } from '../audit-journal/event-log.js';
import type { Logger } from '../logger.js';
import { computeHandlerExtras, createAuditEventHandlers, type AuditEventHandler } from './handlers.js';
import { toAuditRecord } from './record.js';
import type { AuditEnvelope, AuditRecord, HandlerExtras } from './types.js';

/**
 * Records kept for destinations that have not read an event yet. A destination far behind
 * (its server down) would otherwise make this grow without bound; past it, its record is
 * built again when it gets there (handlers are idempotent and the mapping is pure).
 */
const MAX_SHARED_RECORDS = 10_000;

const NO_EXTRAS: HandlerExtras = Object.freeze({});

interface SharedRecord {
  record: Promise<AuditRecord>;
  /** Destinations that have not yet taken this event's record. */
  readersLeft: number;
}

export class AuditEventProcessor {
  private readonly limit: LimitFunction;
  private readonly shared = new Map<number, SharedRecord>();
  private readonly handlers: ReadonlyMap<string, AuditEventHandler>;

  constructor(private readonly options: { maxConcurrent: number; readers: number; logger: Logger }) {
    this.limit = pLimit(options.maxConcurrent);
    this.handlers = createAuditEventHandlers();
  }

  /** The record for one entry, shared by every destination that reads it while it is held. */
  recordFor(entry: LogEntry): Promise<AuditRecord> {
    if (this.options.readers <= 1) return this.buildRecord(entry.envelope);
    let shared = this.shared.get(entry.seq);
    if (!shared) {
      shared = { record: this.buildRecord(entry.envelope), readersLeft: this.options.readers };
      this.shared.set(entry.seq, shared);
      if (this.shared.size > MAX_SHARED_RECORDS)
        this.shared.delete(this.shared.keys().next().value as number);
    }
    shared.readersLeft -= 1;
    if (shared.readersLeft <= 0) this.shared.delete(entry.seq);
    return shared.record;
  }

  /** processAuditEventEnvelope(), as the seeds name it: the handler stage of one event. */
  processAuditEventEnvelope(envelope: AuditEnvelope): Promise<HandlerExtras> {
    return this.limit(() => computeHandlerExtras(this.handlers, envelope, { logger: this.options.logger }));
  }

  private async buildRecord(envelope: AuditEnvelope): Promise<AuditRecord> {
    // Most events have no handler: nothing to compute, or to hold a concurrency slot for.
    const extras = this.handlers.has(envelope.type)
      ? await this.processAuditEventEnvelope(envelope)
      : NO_EXTRAS;
    return toAuditRecord(envelope, extras);
  }
}
