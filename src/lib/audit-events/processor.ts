/**
 * Turns log entries into records: runs each event's handler once, however many destinations
 * read it, with at most `queue.maxConcurrent` handlers at a time (screenshot downloads are
 * network-bound), and builds the record with the one mapping.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { LogEntry } from '../audit-journal/event-log.js';
import type { Logger } from '../logger.js';
import { computeHandlerExtras, createAuditEventHandlers, type AuditEventHandler } from './handlers.js';
import { toAuditRecord } from './record.js';
import type { AuditEnvelope, AuditRecord, HandlerExtras } from './types.js';

/**
 * Extras kept for destinations that have not read an event yet. A destination far behind
 * (its server down) would otherwise make this grow without bound; past it, its extras are
 * computed again when it gets there (handlers are idempotent).
 */
const MAX_SHARED_EXTRAS = 10_000;

const NO_EXTRAS: Promise<HandlerExtras> = Promise.resolve(Object.freeze({}));

interface SharedExtras {
  extras: Promise<HandlerExtras>;
  /** Destinations that have not yet taken this event's extras. */
  readersLeft: number;
}

export class AuditEventProcessor {
  private readonly limit: LimitFunction;
  private readonly shared = new Map<number, SharedExtras>();
  private readonly handlers: ReadonlyMap<string, AuditEventHandler>;

  constructor(
    private readonly options: { maxConcurrent: number; readers: number; logger: Logger },
  ) {
    this.limit = pLimit(options.maxConcurrent);
    this.handlers = createAuditEventHandlers();
  }

  /** The record for one entry; the handler runs once per event and its extras are shared. */
  async recordFor(entry: LogEntry): Promise<AuditRecord> {
    const extras = await this.extrasFor(entry);
    return toAuditRecord(entry.envelope, extras);
  }

  /** processAuditEventEnvelope(), as the seeds name it: the handler stage of one event. */
  processAuditEventEnvelope(envelope: AuditEnvelope): Promise<HandlerExtras> {
    return this.limit(() => computeHandlerExtras(this.handlers, envelope, { logger: this.options.logger }));
  }

  private extrasFor(entry: LogEntry): Promise<HandlerExtras> {
    // Most events have no handler: nothing to compute, share, or hold a concurrency slot for.
    if (!this.handlers.has(entry.envelope.type)) return NO_EXTRAS;
    let shared = this.shared.get(entry.seq);
    if (!shared) {
      shared = { extras: this.processAuditEventEnvelope(entry.envelope), readersLeft: this.options.readers };
      this.shared.set(entry.seq, shared);
      if (this.shared.size > MAX_SHARED_EXTRAS) this.shared.delete(this.shared.keys().next().value as number);
    }
    shared.readersLeft -= 1;
    if (shared.readersLeft <= 0) this.shared.delete(entry.seq);
    return shared.extras;
  }
}
