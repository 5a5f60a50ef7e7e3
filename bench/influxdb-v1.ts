/**
 * InfluxDB v1, in one run:
 * - catch-up: a backlog held in the journal while InfluxDB is down, measured from its first
 *   point reaching influxd to its last, against writing the same line protocol to that influxd
 *   directly in batches of the same size (the ceiling; goal >= 0.8);
 * - end to end from HTTP, reported next to its bound, the HTTP ceiling of the same run.
 * Both the module and the direct writer reach influxd through the same TCP gate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAuditInfluxPointModel } from '../dist/lib/audit-destinations/influxdb/point-model.js';
import { toLineProtocol } from '../dist/lib/audit-destinations/influxdb/line-protocol.js';
import { toAuditRecord } from '../dist/lib/audit-events/record.js';
import { startInfluxd, type InfluxdServer } from '../test/support/influxd.js';
import { postEvents } from './load.js';
import { startServer } from './server.js';
import { createEventFactory } from './realistic-events.js';
import { startTcpGate } from './tcp-gate.js';

const BATCH = 1000;

async function countPoints(influxd: InfluxdServer, database: string): Promise<number> {
  const rows = await influxd.query(database, 'SELECT count("eventId") AS n FROM audit_event').catch(() => []);
  return Number(rows[0]?.n ?? 0);
}

/** When the first point of `database` was seen, and when all `expected` were. */
async function watchArrival(influxd: InfluxdServer, database: string, expected: number) {
  let firstAt: number | undefined;
  for (;;) {
    const count = await countPoints(influxd, database);
    const now = performance.now();
    if (count > 0) firstAt ??= now;
    if (count >= expected) return { firstAt: firstAt!, lastAt: now };
    await sleep(50);
  }
}

/** The same points as line protocol, written through the gate in batches, one after another. */
async function writeDirectly(influxd: InfluxdServer, gatePort: number, events: number): Promise<number> {
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
    const response = await fetch(`http://127.0.0.1:${gatePort}/write?db=${database}&precision=n`, {
      method: 'POST',
      body: lines.slice(start, start + BATCH).join('\n'),
    });
    if (response.status !== 204)
      throw new Error(`direct write failed: ${response.status} ${await response.text()}`);
  }
  const { lastAt } = await watchArrival(influxd, database, events);
  return events / ((lastAt - started) / 1000);
}

/** The module's backlog after an outage: from the first point in influxd to the last. */
async function catchUpThroughModule(
  influxd: InfluxdServer,
  events: number,
  journal: string,
): Promise<number> {
  const database = 'bench_catch_up';
  const gate = await startTcpGate(influxd.port);
  const server = await startServer(['module', `influxdb-v1:${gate.port}:${database}`, journal]);
  try {
    await postEvents(server.port, { amount: events }); // all held in the journal: InfluxDB is "down"
    await gate.open();
    const { firstAt, lastAt } = await watchArrival(influxd, database, events);
    return events / ((lastAt - firstAt) / 1000);
  } finally {
    await server.stop();
    await gate.close();
  }
}

/** Through the module: HTTP POSTs at 50 connections until every point is queryable. */
async function endToEnd(influxd: InfluxdServer, events: number): Promise<number> {
  const database = 'bench_module';
  const server = await startServer(['module', `influxdb-v1:${influxd.port}:${database}`]);
  const started = performance.now();
  await postEvents(server.port, { amount: events });
  const { lastAt } = await watchArrival(influxd, database, events);
  await server.stop();
  return events / ((lastAt - started) / 1000);
}

export async function benchInfluxV1(events: number, journal: string, httpCeiling: number): Promise<string[]> {
  const influxd = await startInfluxd();
  const gate = await startTcpGate(influxd.port);
  try {
    await gate.open();
    const direct = await writeDirectly(influxd, gate.port, events);
    const catchUp = await catchUpThroughModule(influxd, events, journal);
    const module = await endToEnd(influxd, events);
    const ratio = catchUp / direct;
    return [
      `influxd /write direct, batches of ${BATCH} (ceiling)  ${direct.toFixed(0).padStart(7)} points/s`,
      `journal backlog -> influxd after an outage      ${catchUp.toFixed(0).padStart(7)} points/s  ratio ${ratio.toFixed(2)}` +
        `  (goal >= 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`,
      `HTTP -> module -> influxd, end to end           ${module.toFixed(0).padStart(7)} events/s  ` +
        `(bound: the HTTP ceiling, ${httpCeiling.toFixed(0)} events/s, measured without influxd on the cores)`,
    ];
  } finally {
    await gate.close();
    await influxd.stop();
  }
}
