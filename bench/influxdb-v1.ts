/**
 * InfluxDB v1 end to end: events/s from HTTP POST to points queryable in a real influxd,
 * against writing the same line protocol straight to that influxd in batches of the same
 * size (the ceiling), in one run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAuditInfluxPointModel } from '../src/lib/audit-destinations/influxdb/point-model.js';
import { toLineProtocol } from '../src/lib/audit-destinations/influxdb/line-protocol.js';
import { toAuditRecord } from '../src/lib/audit-events/record.js';
import { startInfluxd, type InfluxdServer } from '../test/support/influxd.js';
import { postEvents } from './load.js';
import { startServer } from './server.js';
import { createEventFactory } from './realistic-events.js';

const BATCH = 1000;

async function countPoints(influxd: InfluxdServer, database: string): Promise<number> {
  const rows = await influxd.query(database, 'SELECT count("eventId") AS n FROM audit_event').catch(() => []);
  return Number(rows[0]?.n ?? 0);
}

async function waitForCount(influxd: InfluxdServer, database: string, expected: number): Promise<void> {
  while ((await countPoints(influxd, database)) < expected) await sleep(100);
}

/** The ceiling: the same points as line protocol, POSTed to /write in batches, one after another. */
async function writeDirectly(influxd: InfluxdServer, events: number): Promise<number> {
  const database = 'bench_direct';
  await influxd.ddl(`CREATE DATABASE ${database}`);
  const nextEvent = createEventFactory();
  const mapping = {
    measurementName: 'audit_event',
    auditEventSchemaVersion: '1',
    staticTags: [],
    idTags: false,
  };
  const lines = Array.from({ length: events }, (_, index) =>
    toLineProtocol(buildAuditInfluxPointModel(toAuditRecord(nextEvent(index)), mapping), {
      maxStringFieldBytes: 65536,
    }),
  );
  const started = performance.now();
  for (let start = 0; start < lines.length; start += BATCH) {
    const outcome = await influxd.write(database, lines.slice(start, start + BATCH).join('\n'), 'n');
    if (outcome.status !== 204) throw new Error(`direct write failed: ${outcome.status} ${outcome.error}`);
  }
  await waitForCount(influxd, database, events);
  return events / ((performance.now() - started) / 1000);
}

/** Through the module: HTTP POSTs at 50 connections until every point is queryable. */
async function writeThroughModule(influxd: InfluxdServer, events: number): Promise<number> {
  const database = 'bench_module';
  const server = await startServer(['module', `influxdb-v1:${influxd.port}:${database}`]);
  const started = performance.now();
  await postEvents(server.port, { amount: events });
  await waitForCount(influxd, database, events);
  const rate = events / ((performance.now() - started) / 1000);
  await server.stop();
  return rate;
}

/**
 * `httpCeiling` is the bare fastify figure of the same run: one event per request, no module
 * can post faster than that, so it bounds the end-to-end ratio whatever the destination does.
 */
export async function benchInfluxV1(events: number, httpCeiling: number): Promise<string[]> {
  const influxd = await startInfluxd();
  try {
    const direct = await writeDirectly(influxd, events);
    const module = await writeThroughModule(influxd, events);
    const ratio = module / direct;
    return [
      `influxd /write direct (ceiling)     ${direct.toFixed(0).padStart(7)} events/s`,
      `HTTP -> module -> influxd           ${module.toFixed(0).padStart(7)} events/s  ratio ${ratio.toFixed(2)}` +
        `  (goal >= 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`,
      `bound: the HTTP ceiling above        ${httpCeiling.toFixed(0).padStart(7)} events/s  ratio ` +
        `${(httpCeiling / direct).toFixed(2)} (without influxd sharing the cores)`,
    ];
  } finally {
    await influxd.stop();
  }
}
