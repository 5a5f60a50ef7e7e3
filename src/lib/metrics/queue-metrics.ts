/**
 * Butler SOS's queue metrics (`queue.queueMetrics.influxdb`), filled from this module's own
 * figures and written every `writeFrequency` ms to the audit InfluxDB destination: measurement
 * `audit_events_queue` by default, tags `queue_type=audit_events`, `host` and the configured ones,
 * and the fields Butler SOS 15 writes, with its types (integers as integers), so that a Butler SOS
 * dashboard built on them keeps working. As in Butler SOS, the `messages_*` counts and the
 * processing times are of the interval since the previous point. Two fields are this module's:
 * `journal_backlog` (events not yet written by every destination) and `dead_letters` (events
 * dead-lettered since start). Best effort: a point that cannot be written is logged, not kept.
 */
import os from 'node:os';
import type { InfluxPointWriter } from '../audit-destinations/influxdb/point-writer.js';
import { toLineProtocol, type LineProtocolOptions } from '../audit-destinations/influxdb/line-protocol.js';
import type { InfluxFieldValue } from '../audit-destinations/influxdb/point-model.js';
import type { StaticTag } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LogBacklog } from '../audit-journal/event-log.js';
import type { AuditMetrics, MetricsSources } from './audit-metrics.js';

export interface QueueMetricsOptions {
  measurementName: string;
  tags: readonly StaticTag[];
  writeFrequency: number;
  /** `queue.backpressureThreshold`: the log counts as under back-pressure from this % full. */
  backpressureThreshold: number;
  /** The InfluxDB destination's writer (its startup gate included), which the destination closes. */
  writer: InfluxPointWriter;
  /** The InfluxDB destination's line-protocol settings: its points and these are written alike. */
  lineProtocol: LineProtocolOptions;
  metrics: AuditMetrics;
  sources: MetricsSources;
  logger: Logger;
  host?: string;
}

/** A value InfluxDB keeps as an integer (`123i`), as Butler SOS writes these fields. */
const int = (value: number): bigint => BigInt(Math.max(0, Math.round(value)));

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

/** What the counters said at the previous point: the next point counts from there. */
interface Counted {
  received: number;
  accepted: number;
  refused: Map<number, number>;
  settled: number;
  /** Dead-lettered, summed over the destinations. */
  rejected: number;
}

export class QueueMetricsWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private previous: Counted;
  /** Batch write times since the previous point, in ms. */
  private durations: number[] = [];
  private readonly host: string;

  constructor(private readonly options: QueueMetricsOptions) {
    this.host = options.host ?? os.hostname();
    this.previous = this.counted();
  }

  start(): void {
    this.timer ??= setInterval(() => void this.writeNow(), this.options.writeFrequency);
    this.timer.unref(); // metrics never keep the process alive
  }

  /**
   * Stops the timer and writes the last interval's point (its counts would be lost otherwise:
   * each point counts since the previous one). The writer stays open: it is the destination's.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writeNow();
  }

  batchWritten(seconds: number): void {
    this.durations.push(seconds * 1000);
  }

  /** Writes one point now (the timer calls this; tests may too). */
  writeNow(): Promise<void> {
    this.writing = this.writing.then(() => this.writePoint());
    return this.writing;
  }

  /** The point's fields, as Butler SOS names them. */
  fields(): Record<string, InfluxFieldValue> {
    const { sources } = this.options;
    const now = this.counted();
    const before = this.previous;
    this.previous = now;
    const durations = [...this.durations].sort((a, b) => a - b);
    this.durations = [];
    const refusedSince = (status: number) =>
      (now.refused.get(status) ?? 0) - (before.refused.get(status) ?? 0);
    const droppedTotal = [...now.refused.keys()].reduce((sum, status) => sum + refusedSince(status), 0);
    const log = sources.log();
    const entries = log?.entries ?? 0;
    const utilization = utilizationPct(log);
    return {
      queue_size: int(entries),
      queue_max_size: int(capacityInEvents(log)),
      queue_utilization_pct: utilization,
      queue_running: int(sources.handlersRunning()),
      messages_received: int(now.received - before.received),
      messages_queued: int(now.accepted - before.accepted),
      messages_processed: int(now.settled - before.settled),
      messages_failed: int(now.rejected - before.rejected),
      messages_dropped_total: int(droppedTotal),
      messages_dropped_rate_limit: int(refusedSince(429)),
      messages_dropped_queue_full: int(refusedSince(503)),
      messages_dropped_size: int(refusedSince(413)),
      processing_time_avg_ms:
        durations.length === 0 ? 0 : durations.reduce((a, b) => a + b, 0) / durations.length,
      processing_time_p95_ms: percentile(durations, 0.95),
      processing_time_max_ms: durations.at(-1) ?? 0,
      rate_limit_current: int(this.options.metrics.rateLimitCurrent()),
      backpressure_active: int(utilization >= this.options.backpressureThreshold ? 1 : 0),
      journal_backlog: int(entries),
      dead_letters: int(now.rejected),
    };
  }

  private async writePoint(): Promise<void> {
    const point = {
      measurement: this.options.measurementName,
      tags: Object.fromEntries([
        ['queue_type', 'audit_events'],
        ['host', this.host],
        ...this.options.tags.map(({ name, value }) => [name, value]),
      ]),
      fields: this.fields(),
      timestampNs: BigInt(Date.now()) * 1_000_000n,
      eventId: 'queue-metrics',
    };
    try {
      await this.options.writer.write([toLineProtocol(point, this.options.lineProtocol)]);
    } catch (error) {
      this.options.logger.warn(
        `queue metrics: could not write to InfluxDB (${errorMessage(error)}); the next point follows`,
      );
    }
  }

  private counted(): Counted {
    const intake = this.options.metrics.intakeCounts();
    const destinations = this.options.sources.destinations();
    const settled = destinations.map((status) => status.written + status.rejected);
    return {
      received: intake.received,
      accepted: intake.accepted,
      refused: new Map(intake.refusedByStatus),
      // Events every destination is done with: the slowest destination's count.
      settled: settled.length === 0 ? 0 : Math.min(...settled),
      rejected: destinations.reduce((sum, status) => sum + status.rejected, 0),
    };
  }
}

/** % of the log in use: of queue.maxSize for the in-memory log, of journal.maxBytes for the journal. */
function utilizationPct(log: LogBacklog | null): number {
  if (!log || log.capacity <= 0) return 0;
  const used = log.kind === 'journal' ? (log.bytes ?? 0) : log.entries;
  return (100 * used) / log.capacity;
}

/**
 * queue_max_size in events, as Butler SOS reports it. The journal is bounded in bytes: its
 * size in events at the average size of the events it holds now (0 while it holds none).
 */
function capacityInEvents(log: LogBacklog | null): number {
  if (!log) return 0;
  if (log.kind === 'memory') return log.capacity;
  const bytes = log.bytes ?? 0;
  return log.entries > 0 && bytes > 0 ? log.capacity / (bytes / log.entries) : 0;
}
