/**
 * `npm run bench`: figures for this machine, each next to the ceiling it is measured against,
 * in one run (docs/performance.md). Not part of `npm test`: speed is never asserted by tests.
 * It runs the compiled module (dist/, which `npm run bench` builds first).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEventFactory } from './realistic-events.js';
import { benchBatchFill } from './batch-fill.js';
import { benchInfluxV1 } from './influxdb-v1.js';
import { CONNECTIONS, postEvents } from './load.js';
import { benchMemory } from './memory.js';
import { benchParquetEncoding } from './parquet-encoding.js';
import { benchScreenshots } from './screenshots.js';
import { PIN, pinThisProcessToCpu1, startServer } from './server.js';

const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARM_UP_SECONDS = 2;
const INFLUX_EVENTS = Number(process.env.BENCH_INFLUX_EVENTS ?? 30000);
/** A 10-minute outage by default; shorter runs (at least 60 s) are for trying the bench out. */
const OUTAGE_SECONDS = Number(process.env.BENCH_OUTAGE_SECONDS ?? 600);

interface HttpFigures {
  label: string;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function loadHttp(label: string, args: string[]): Promise<HttpFigures> {
  const server = await startServer(args);
  const nextEvent = createEventFactory();
  await postEvents(server.port, { seconds: WARM_UP_SECONDS }, nextEvent); // JIT warm-up, not counted
  const result = await postEvents(server.port, { seconds: DURATION_SECONDS }, nextEvent);
  await server.stop();
  return {
    label,
    eventsPerSecond: result['2xx'] / (result.duration || DURATION_SECONDS),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  };
}

function formatHttp(figures: HttpFigures, ceiling: HttpFigures, goal?: number): string {
  const ratio = figures.eventsPerSecond / ceiling.eventsPerSecond;
  const verdict =
    goal === undefined ? '' : ratio >= goal ? `  (goal >= ${goal}: met)` : `  (goal >= ${goal}: NOT met)`;
  return (
    `${figures.label.padEnd(34)} ${figures.eventsPerSecond.toFixed(0).padStart(7)} events/s  ` +
    `p50 ${String(figures.p50).padStart(3)} ms  p99 ${String(figures.p99).padStart(4)} ms  ` +
    `non-2xx ${figures.non2xx}  ratio ${ratio.toFixed(2)}${verdict}`
  );
}

async function main(): Promise<void> {
  pinThisProcessToCpu1();
  console.log(
    `# bench on ${os.cpus().length} cores, node ${process.version}, ${DURATION_SECONDS} s per HTTP case, ` +
      `${CONNECTIONS} connections, ${PIN ? 'server on CPU 0 and load generator on CPU 1' : 'unpinned'}`,
  );
  const exportDirectory = mkdtempSync(path.join(os.tmpdir(), 'bench-parquet-'));
  const ceiling = await loadHttp('ceiling: bare fastify + validation', ['ceiling']);
  const journalOff = await loadHttp('module, journal off, Parquet', ['module', `parquet:${exportDirectory}`]);
  const journalOn = await loadHttp('module, journal on (fsync batch)', [
    'module',
    `parquet:${mkdtempSync(path.join(os.tmpdir(), 'bench-parquet-'))}`,
    mkdtempSync(path.join(os.tmpdir(), 'bench-journal-')),
  ]);
  console.log('\n## HTTP ingest');
  console.log(formatHttp(ceiling, ceiling));
  console.log(formatHttp(journalOff, ceiling, 0.8));
  console.log(formatHttp(journalOn, ceiling, 0.5));

  console.log('\n## Parquet encoding (10,000 realistic rows per file)');
  for (const line of await benchParquetEncoding(10000, 5)) console.log(line);

  console.log('\n## Batch fill under sustained load (journal -> delivery loop -> Parquet)');
  for (const line of await benchBatchFill(15000, 10)) console.log(line);

  console.log(`\n## InfluxDB v1 (${INFLUX_EVENTS} events, batches of 1000)`);
  const influxJournal = mkdtempSync(path.join(os.tmpdir(), 'bench-influx-journal-'));
  for (const line of await benchInfluxV1(INFLUX_EVENTS, influxJournal, ceiling.eventsPerSecond))
    console.log(line);

  console.log('\n## Screenshots: event-loop delay while 6000x4000 PNGs are cropped');
  for (const line of await benchScreenshots(Number(process.env.BENCH_SCREENSHOTS ?? 6))) console.log(line);

  console.log(`\n## Memory, journal on, InfluxDB unreachable (${OUTAGE_SECONDS} s outage)`);
  const memoryJournal = mkdtempSync(path.join(os.tmpdir(), 'bench-memory-journal-'));
  for (const line of await benchMemory(Math.max(60, OUTAGE_SECONDS), memoryJournal)) console.log(line);
}

await main();
