/**
 * The module's figures for Prometheus (GET /metrics, prom-client): what the API received and
 * answered, what the log holds, and per destination what it wrote, dead-lettered and failed to
 * write, how long its batches took, and when it last succeeded. One registry per module (no
 * global state): several modules in one process keep their figures apart.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KNOWN_EVENT_TYPES } from '../audit-events/envelope-schemas.js';
import { isAcceptedEventType } from '../audit-events/envelope-validator.js';
import type { LogBacklog } from '../audit-journal/event-log.js';
import type { DeliveryStatus } from '../delivery/delivery-loop.js';

export type DestinationFigures = DeliveryStatus & { backlog: number };

export interface MetricsSources {
  /** The event log's backlog (null before the module started). */
  log(): LogBacklog | null;
  /** Each delivery loop's status, with the events it has not written yet. */
  destinations(): readonly DestinationFigures[];
  /** Type handlers (screenshot downloads) running now. */
  handlersRunning(): number;
}

/** Counts the API keeps, read by the queue metrics too. */
export interface IntakeCounts {
  received: number;
  accepted: number;
  /** Answers other than 202, by status. */
  refusedByStatus: ReadonlyMap<number, number>;
}

type Outcome = 'accepted' | 'refused' | 'unavailable' | 'error';

function outcomeOf(status: number): Outcome {
  if (status === 202) return 'accepted';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'error';
  return 'refused';
}

/**
 * The `type` label: a known type, `event.other` for the open `event.*` family, `unread` when the
 * answer came before the body was read (token, rate limit, size), `invalid` for the rest. Clients choose types; label values must stay few, or a client could grow the registry
 * without bound.
 */
function typeLabel(type: string | undefined): string {
  if (type === undefined) return 'unread';
  if (!isAcceptedEventType(type)) return 'invalid';
  // Accepted and not known: one of the open `event.*` family.
  return (KNOWN_EVENT_TYPES as readonly string[]).includes(type) ? type : 'event.other';
}

/** Seconds since the epoch of an ISO time; 0 for never, as Prometheus exporters write it. */
function epochSeconds(iso: string | null): number {
  return iso === null ? 0 : Date.parse(iso) / 1000;
}

export class AuditMetrics {
  readonly registry = new Registry();
  private readonly intake = { received: 0, accepted: 0, refusedByStatus: new Map<number, number>() };
  private readonly eventsReceived: Counter<'type' | 'outcome'>;
  private readonly httpResponses: Counter<'status'>;
  private readonly batchDuration: Histogram<'destination'>;
  private rateLimitReading: () => number = () => 0;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'audit_' });
    this.eventsReceived = new Counter({
      name: 'audit_events_received_total',
      help: 'Audit events posted to the API, by type and by what the answer was (accepted, refused, unavailable, error)',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.httpResponses = new Counter({
      name: 'audit_http_responses_total',
      help: 'HTTP answers of the audit API, by status',
      labelNames: ['status'],
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'audit_destination_batch_write_duration_seconds',
      help: 'Time one write of a batch to a destination took, successful or not',
      labelNames: ['destination'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.logGauges(registers);
    this.destinationFigures(registers);
  }

  /** An answer of POST /api/v1/audit-event; `type` when the body had one. */
  eventAnswered(type: string | undefined, status: number): void {
    this.eventsReceived.inc({ type: typeLabel(type), outcome: outcomeOf(status) });
    this.intake.received += 1;
    if (status === 202) this.intake.accepted += 1;
    else this.intake.refusedByStatus.set(status, (this.intake.refusedByStatus.get(status) ?? 0) + 1);
  }

  httpAnswered(status: number): void {
    this.httpResponses.inc({ status: String(status) });
  }

  batchWritten(destinationId: string, seconds: number): void {
    this.batchDuration.observe({ destination: destinationId }, seconds);
  }

  /** Where `queue.rateLimit`'s count of the current minute is read (the API's limiter). */
  readRateLimitWith(read: () => number): void {
    this.rateLimitReading = read;
  }

  /** Events counted in the current minute of `queue.rateLimit` (0 when it is off). */
  rateLimitCurrent(): number {
    return this.rateLimitReading();
  }

  intakeCounts(): IntakeCounts {
    return this.intake;
  }

  /** The Prometheus text of every figure. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private logGauges(registers: Registry[]): void {
    const { sources } = this;
    new Gauge({
      name: 'audit_log_backlog_events',
      help: 'Accepted events not yet written (or dead-lettered) by every destination',
      registers,
      collect() {
        this.set(sources.log()?.entries ?? 0);
      },
    });
    new Gauge({
      name: 'audit_journal_bytes',
      help: 'Bytes of journal segment files on disk (0 with the in-memory log)',
      registers,
      collect() {
        this.set(sources.log()?.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'audit_handlers_running',
      help: 'Type handlers (screenshot downloads) running now',
      registers,
      collect() {
        this.set(sources.handlersRunning());
      },
    });
  }

  /** Read from the delivery loops when scraped: they keep the counts, this only shows them. */
  private destinationFigures(registers: Registry[]): void {
    const { sources } = this;
    const perDestination = (
      name: string,
      help: string,
      value: (status: DestinationFigures) => number,
      kind: 'counter' | 'gauge',
    ) => {
      const collect = function (this: Counter<'destination'> | Gauge<'destination'>) {
        this.reset();
        for (const status of sources.destinations()) {
          const figure = value(status);
          if (this instanceof Gauge) this.set({ destination: status.id }, figure);
          else this.inc({ destination: status.id }, figure);
        }
      };
      const options = { name, help, labelNames: ['destination'] as const, registers, collect };
      return kind === 'counter' ? new Counter(options) : new Gauge(options);
    };
    perDestination('audit_destination_written_events_total', 'Events written', (s) => s.written, 'counter');
    perDestination(
      'audit_destination_rejected_events_total',
      'Events the destination refused for their content, moved to its dead-letter file',
      (s) => s.rejected,
      'counter',
    );
    perDestination(
      'audit_destination_write_failures_total',
      'Write attempts that failed and were retried',
      (s) => s.failed,
      'counter',
    );
    perDestination(
      'audit_destination_backlog_events',
      'Accepted events this destination has not written yet',
      (s) => s.backlog,
      'gauge',
    );
    perDestination(
      'audit_destination_buffered_events',
      'Events read from the log and held in memory',
      (s) => s.buffered,
      'gauge',
    );
    perDestination(
      'audit_destination_healthy',
      '1 while the last write succeeded, 0 while a retry waits',
      (s) => (s.healthy ? 1 : 0),
      'gauge',
    );
    perDestination(
      'audit_destination_last_success_timestamp_seconds',
      'When the destination last wrote a batch (0: not since start)',
      (s) => epochSeconds(s.lastSuccessAt),
      'gauge',
    );
  }
}
