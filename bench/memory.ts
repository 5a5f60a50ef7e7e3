/**
 * Memory (SPEC 9), with the journal on and InfluxDB unreachable: RSS per event the module
 * holds for a destination that is down, then RSS through a long outage at a steady rate, which
 * must stay bounded (past maxBufferedPoints the destination stops reading the journal and the
 * events wait on disk). The verdict compares the growth over the second half of the outage
 * with what holding that half's events in memory would take.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rssMegabytes } from '../test/support/module-process.js';
import { postEvents } from './load.js';
import { startServer } from './server.js';

const HELD_EVENTS = 20000;
const OUTAGE_RATE = 1000;
const SAMPLES = 10;
/** Bounded: the second half adds less than this share of what holding its events would take. */
const BOUNDED_SHARE = 0.1;

/** A port nothing listens on: connections to it are refused, as to a stopped InfluxDB. */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function benchMemory(outageSeconds: number): Promise<string[]> {
  const journal = mkdtempSync(path.join(os.tmpdir(), 'bench-memory-journal-'));
  const server = await startServer(['module', `influxdb-v1:${await refusedPort()}:audit`, journal]);
  try {
    await sleep(1000);
    const idle = rssMegabytes(server.pid);
    await postEvents(server.port, { amount: HELD_EVENTS });
    await sleep(1000);
    const holding = rssMegabytes(server.pid);
    const bytesPerEvent = ((holding - idle) * 1024 * 1024) / HELD_EVENTS;

    const samples: number[] = [];
    const sampler = setInterval(
      () => samples.push(rssMegabytes(server.pid)),
      (outageSeconds * 1000) / SAMPLES,
    );
    const load = await postEvents(server.port, { seconds: outageSeconds }, undefined, OUTAGE_RATE);
    clearInterval(sampler);
    samples.push(rssMegabytes(server.pid));

    const half = Math.floor(samples.length / 2);
    const secondHalfGrowth = Math.max(...samples.slice(half)) - samples[half - 1];
    const secondHalfEvents = (load['2xx'] * (samples.length - half)) / samples.length;
    const heldWouldTake = (bytesPerEvent * secondHalfEvents) / (1024 * 1024);
    const bounded = secondHalfGrowth < BOUNDED_SHARE * heldWouldTake;
    const mb = (value: number) => value.toFixed(0);
    return [
      `RSS per event held for a destination that is down  ${bytesPerEvent.toFixed(0)} bytes ` +
        `(${HELD_EVENTS} events: ${mb(idle)} -> ${mb(holding)} MB)`,
      `${outageSeconds} s outage at ${OUTAGE_RATE} events/s, ${load['2xx']} accepted, non-2xx ${load.non2xx}: ` +
        `RSS ${samples.map(mb).join(' / ')} MB`,
      `second half grew ${mb(secondHalfGrowth)} MB; holding its events would take ${mb(heldWouldTake)} MB ` +
        `(bounded: ${bounded ? 'yes' : 'NO'}; meaningful once the outage outlasts maxBufferedPoints, ` +
        'about 100 s at the default)',
    ];
  } finally {
    await server.stop();
  }
}
