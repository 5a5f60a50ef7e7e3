/**
 * One runner per destination joins the log and the destination: it pulls from its own
 * cursor while the destination has room, and hands each record over with an ack that
 * advances that destination's checkpoint. A slow destination only slows its own runner.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { AuditEventProcessor } from '../audit-events/processor.js';
import type { Cursor } from '../audit-journal/event-log.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuditRecord } from '../audit-events/types.js';
import type { AuditDestination, Delivery } from './destination.js';

/** How often a runner whose destination is full looks again for room. */
const ROOM_POLL_MS = 25;
const MAX_READ = 1000;

export class DestinationRunner {
  private loop: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly cursor: Cursor,
    private readonly destination: AuditDestination,
    private readonly processor: AuditEventProcessor,
    private readonly options: { maxBuffered: number; logger: Logger },
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves once the runner has handed over every entry up to `lastSeq` (or was stopped). */
  async drainedTo(lastSeq: number, deadline: number): Promise<boolean> {
    while (this.cursor.readPosition < lastSeq && Date.now() < deadline && !this.stopped) {
      await delay(ROOM_POLL_MS);
    }
    return this.cursor.readPosition >= lastSeq;
  }

  /**
   * Stops handing over at once (what it read and did not hand over stays unacked in the log);
   * the returned promise settles when the loop ends, which needs the log closed if it waits.
   */
  stop(): Promise<void> {
    this.stopped = true;
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const room = this.options.maxBuffered - this.destination.status().buffered;
      if (room <= 0) {
        await delay(ROOM_POLL_MS);
        continue;
      }
      const entries = await this.cursor.next(Math.min(room, MAX_READ));
      if (entries.length === 0) return; // the log was closed
      const records = entries.map((entry) => this.processor.recordFor(entry));
      for (const [index, entry] of entries.entries()) {
        if (this.stopped) return;
        await this.handOver(entry.seq, records[index]);
      }
    }
  }

  private async handOver(seq: number, recordPromise: Promise<AuditRecord>): Promise<void> {
    const delivery = { seq, ack: () => this.cursor.ack(seq) };
    try {
      writeAuditEventToDestinations(
        await recordPromise,
        [{ destination: this.destination, delivery }],
        this.options.logger,
      );
    } catch (error) {
      // An event that passed validation always maps; if one ever does not, that is a bug to
      // report loudly (with its seq and the error), and it must not hold back every event
      // behind it, so it is acked.
      this.options.logger.error(
        { seq, destination: this.destination.id, err: errorMessage(error) },
        `could not build the record of event #${seq} for ${this.destination.id}; skipped`,
      );
      delivery.ack();
    }
  }
}

/**
 * writeAuditEventToDestinations(), as the seeds name it: hands one record to each target
 * destination. A destination that throws for one event never keeps the others from it.
 */
export function writeAuditEventToDestinations(
  record: AuditRecord,
  targets: Array<{ destination: AuditDestination; delivery?: Delivery }>,
  logger: Logger,
): void {
  for (const { destination, delivery } of targets) {
    try {
      destination.writeAuditEvent(record, delivery);
    } catch (error) {
      logger.error(
        { eventId: record.eventId, destination: destination.id, err: errorMessage(error) },
        `destination ${destination.id} refused event ${record.eventId}`,
      );
    }
  }
}
