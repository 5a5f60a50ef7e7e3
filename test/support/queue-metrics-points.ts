/**
 * A day of queue metrics before the module ran, for the health dashboard: the measurement Butler
 * SOS 15 writes for its queues (`audit_events_queue` by default, tags `queue_type=audit_events`,
 * `host` and the configured tags; counters that count since the previous point, with Butler SOS's
 * field types), plus the module's own `journal_backlog` (events not yet written by every
 * destination) and `dead_letters` (dead-lettered since start). The module writes the same
 * measurement itself while it runs (write-through-module.ts), a few seconds' worth: panels that
 * compare intervals need the history, and InfluxDB refusing the module's points for a type
 * conflict with these would fail that run.
 */
import { Point } from '@influxdata/influxdb-client';
import type { StaticTag } from '../../src/lib/config/schema.js';
import type { InfluxdServer } from './influxd.js';

export interface QueueMetricsOptions {
  /** Default `audit_events_queue`. */
  measurement?: string;
  /** Default `butler-sos-01`. */
  host?: string;
  staticTags?: StaticTag[];
  /** The newest point's time; default now. */
  endMs?: number;
  /** How far back the points go; default 24 h. */
  spanMs?: number;
  /** Time between points; default 1 min, as Butler SOS writes them. */
  everyMs?: number;
}

export const QUEUE_METRICS_MEASUREMENT = 'audit_events_queue';
const QUEUE_MAX_SIZE = 200;
const DAY_MS = 24 * 3600_000;

/** Integers that vary over the day: quiet nights, busy hours, a few refusals and failures. */
function pointValues(index: number) {
  const hour = Math.floor(index / 60) % 24;
  const busy = hour >= 7 && hour <= 17;
  const received = (busy ? 20 : 2) + ((index * 7) % 11);
  const droppedRateLimit = index % 97 === 0 ? 3 : 0;
  const droppedQueueFull = index % 211 === 0 ? 2 : 0;
  const droppedSize = index % 331 === 0 ? 1 : 0;
  const droppedTotal = droppedRateLimit + droppedQueueFull + droppedSize;
  const failed = index % 157 === 0 ? 1 : 0;
  const queued = received - droppedTotal;
  const queueSize = (index * 13) % (busy ? QUEUE_MAX_SIZE : 20);
  const utilization = (100 * queueSize) / QUEUE_MAX_SIZE;
  return {
    ints: {
      queue_size: queueSize,
      queue_max_size: QUEUE_MAX_SIZE,
      queue_running: Math.min(queueSize, 10),
      messages_received: received,
      messages_queued: queued,
      messages_processed: queued - failed,
      messages_failed: failed,
      messages_dropped_total: droppedTotal,
      messages_dropped_rate_limit: droppedRateLimit,
      messages_dropped_queue_full: droppedQueueFull,
      messages_dropped_size: droppedSize,
      rate_limit_current: received,
      backpressure_active: utilization > 80 ? 1 : 0,
      // An InfluxDB outage in the afternoon: the backlog grows, then drains.
      journal_backlog: hour === 15 ? (index % 60) * 25 : 0,
      dead_letters: Math.floor(index / 300),
    },
    floats: {
      queue_utilization_pct: utilization,
      processing_time_avg_ms: 1.5 + (index % 9) / 4,
      processing_time_p95_ms: 6 + (index % 13) / 2,
      processing_time_max_ms: 12 + (index % 17),
    },
  };
}

/** The points as line protocol (nanosecond timestamps), oldest first. */
export function queueMetricsLines(options: QueueMetricsOptions = {}): string[] {
  const {
    measurement = QUEUE_METRICS_MEASUREMENT,
    host = 'butler-sos-01',
    staticTags = [],
    endMs = Date.now(),
    spanMs = DAY_MS,
    everyMs = 60_000,
  } = options;
  const count = Math.floor(spanMs / everyMs);
  const lines: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const point = new Point(measurement).tag('queue_type', 'audit_events').tag('host', host);
    for (const { name, value } of staticTags) point.tag(name, value);
    const { ints, floats } = pointValues(index);
    for (const [name, value] of Object.entries(ints)) point.intField(name, value);
    for (const [name, value] of Object.entries(floats)) point.floatField(name, value);
    const timeMs = endMs - (count - 1 - index) * everyMs;
    point.timestamp(`${timeMs}000000`);
    lines.push(point.toLineProtocol() as string);
  }
  return lines;
}

/** Writes the points into `db` of a test influxd; resolves with how many were written. */
export async function writeQueueMetricsPoints(
  influxd: InfluxdServer,
  db: string,
  options: QueueMetricsOptions = {},
): Promise<number> {
  const lines = queueMetricsLines(options);
  const outcome = await influxd.write(db, lines.join('\n'), 'ns');
  if (outcome.status !== 204) throw new Error(`influxd refused the queue metrics: ${outcome.error}`);
  return lines.length;
}
