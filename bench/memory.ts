/**
 * Memory with the journal on and InfluxDB unreachable: the backlog waits on disk, so RSS must
 * not follow it. Reported: RSS with 20,000 events waiting, and RSS through an outage at a
 * steady 1000 events/s, sampled every second: RSS at 10 s, at 60 s (goal: within 40 MB of the
 * 10 s figure) and at the end (a 10-minute outage by default: flat from 60 s on).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { rssMegabytes } from '../test/support/module-process.js';
import { postEvents } from './load.js';
import { startServer } from './server.js';
import { refusedPort } from './tcp-gate.js';

const WAITING_EVENTS = 20000;
const OUTAGE_RATE = 1000;
const BOUND_MB = 40;

export async function benchMemory(outageSeconds: number, journal: string): Promise<string[]> {
  const server = await startServer(['module', `influxdb-v1:${await refusedPort()}:audit`, journal]);
  try {
    await sleep(1000);
    const idle = rssMegabytes(server.pid);
    await postEvents(server.port, { amount: WAITING_EVENTS });
    await sleep(1000);
    const waiting = rssMegabytes(server.pid);

    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMegabytes(server.pid)), 1000);
    const load = await postEvents(server.port, { seconds: outageSeconds }, undefined, OUTAGE_RATE);
    clearInterval(sampler);
    samples.push(rssMegabytes(server.pid));

    const at = (second: number) => samples[Math.min(samples.length, second) - 1];
    const growth = at(60) - at(10);
    const lateGrowth = Math.max(...samples.slice(59)) - at(60);
    const mb = (value: number) => value.toFixed(0);
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    return [
      `RSS idle ${mb(idle)} MB; with ${WAITING_EVENTS} events waiting in the journal ${mb(waiting)} MB`,
      `${outageSeconds} s outage at ${OUTAGE_RATE} events/s, ${load['2xx']} accepted, non-2xx ${load.non2xx}: ` +
        `RSS at 10 s ${mb(at(10))} MB, at 60 s ${mb(at(60))} MB (grew ${mb(growth)} MB; goal <= ${BOUND_MB}: ` +
        `${verdict(growth <= BOUND_MB)}), at the end ${mb(samples.at(-1)!)} MB`,
      ...(samples.length > 60
        ? [
            `from 60 s to the end: highest ${mb(Math.max(...samples.slice(59)))} MB, grew ${mb(lateGrowth)} MB (flat: ${verdict(lateGrowth <= BOUND_MB)})`,
          ]
        : []),
    ];
  } finally {
    await server.stop();
  }
}
