/**
 * The journal's promise (docs/journal.md) with real processes and real servers: the module runs as a child process from a
 * config file, is killed with SIGKILL at random moments under concurrent load, and what it
 * answered 202 must end up in Parquet exactly once and in InfluxDB; an InfluxDB outage must
 * not slow the API or Parquet; a full journal answers 503 and recovers.
 */
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { destinationHealth, sendEventsUntil } from '../support/audit-api-client.js';
import { eventually, sleep } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import {
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
  type ModuleProcess,
} from '../support/module-process.js';
import { countParquetRows, runDuckDbQuery } from '../support/parquet-reader.js';

async function influxEventIds(influxd: InfluxdServer, database: string): Promise<string[]> {
  const rows = await influxd.query(database, 'SELECT "eventId" FROM audit_event');
  return rows.map((row) => String(row.eventId));
}

describe('durability of accepted events (journal)', function () {
  this.timeout(600000);
  let influxd: InfluxdServer;

  before(async () => {
    influxd = await startInfluxd();
  });

  after(async () => {
    await influxd.stop();
  });

  function config(dir: string, database: string, extra: Record<string, unknown> = {}) {
    return {
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 20000,
      journal: { directory: path.join(dir, 'journal') },
      destination: {
        type: 'parquet, influxdb',
        parquet: { exportDirectory: path.join(dir, 'parquet'), writeFrequency: 300, maxBatchSize: 500 },
        influxdb: {
          host: '127.0.0.1',
          port: influxd.port,
          version: 1,
          writeFrequency: 300,
          maxBatchSize: 1000,
          v1Config: { dbName: database },
        },
      },
      ...extra,
    };
  }

  it('keeps every event answered 202 through repeated kill -9 under load: once in Parquet, and in InfluxDB', async () => {
    const dir = tempDir('crash-loop');
    const file = writeConfigFile(dir, config(dir, 'crash_loop'));
    const accepted: string[] = [];
    const cycles = 6;
    for (let cycle = 0; cycle < cycles; cycle += 1) {
      const module = await startModule(file);
      const killAt = sleep(400 + Math.random() * 1200).then(() => module.child.kill('SIGKILL'));
      const load = await sendEventsUntil(module.baseUrl, module.exited);
      await killAt;
      accepted.push(...load.accepted);
    }
    const final = await startModule(file);
    expect(await stopModule(final)).to.equal(0); // drains the journal into both destinations

    const parquetGlob = path.join(dir, 'parquet', '*.parquet');
    const [counts] = await runDuckDbQuery(
      `SELECT count(*) AS rows, count(DISTINCT eventId) AS distinctIds FROM read_parquet('${parquetGlob}')`,
      dir,
    );
    const parquetIds = new Set(
      (await runDuckDbQuery(`SELECT eventId FROM read_parquet('${parquetGlob}')`, dir)).map((row) =>
        String(row.eventId),
      ),
    );
    const influxIds = new Set(await influxEventIds(influxd, 'crash_loop'));
    const lostInParquet = accepted.filter((id) => !parquetIds.has(id));
    const lostInInflux = accepted.filter((id) => !influxIds.has(id));
    console.log(
      `      crash loop: ${cycles} kill -9 cycles, ${accepted.length} accepted, ` +
        `Parquet ${counts.rows} rows (${counts.distinctIds} distinct, ${Number(counts.rows) - Number(counts.distinctIds)} duplicates), ` +
        `InfluxDB ${influxIds.size} events; lost: Parquet ${lostInParquet.length}, InfluxDB ${lostInInflux.length}`,
    );
    expect(accepted.length).to.be.greaterThan(cycles * 50);
    expect(lostInParquet).to.deep.equal([]);
    expect(lostInInflux).to.deep.equal([]);
    expect(Number(counts.rows)).to.equal(Number(counts.distinctIds));
  });

  it('keeps answering 202 and writing Parquet while InfluxDB is paused, and InfluxDB gets everything after', async () => {
    const dir = tempDir('influx-paused');
    let module: ModuleProcess | null = null;
    try {
      module = await startModule(writeConfigFile(dir, config(dir, 'paused')));
      const warmUp = await sendEventsUntil(module.baseUrl, sleep(300), 5);
      await eventually(
        async () =>
          (await influxEventIds(influxd, 'paused')).length >= warmUp.accepted.length ? true : undefined,
        30000,
        'warm-up',
      );
      await influxd.pause(); // SIGSTOP: connections hang, nothing answers
      const rowsBefore = await countParquetRows(path.join(dir, 'parquet', '*.parquet'));
      const duringPause = await sendEventsUntil(module.baseUrl, sleep(4000), 10);
      const rowsDuring = await eventually(
        async () => {
          const rows = await countParquetRows(path.join(dir, 'parquet', '*.parquet'));
          return rows >= rowsBefore + duringPause.accepted.length ? rows : undefined;
        },
        20000,
        'Parquet to write the events of the pause',
      );
      influxd.resume();
      const all = [...warmUp.accepted, ...duringPause.accepted];
      await eventually(
        async () => {
          const stored = new Set(await influxEventIds(influxd, 'paused'));
          return all.every((id) => stored.has(id)) ? true : undefined;
        },
        120000,
        'InfluxDB to receive everything',
      );
      console.log(
        `      InfluxDB paused 4 s: ${duringPause.accepted.length} events answered 202 meanwhile ` +
          `(statuses ${JSON.stringify(Object.fromEntries(duringPause.statuses))}), Parquet rows ${rowsBefore} -> ${rowsDuring} during the pause`,
      );
      expect([...duringPause.statuses.keys()]).to.deep.equal([202]);
      expect(rowsDuring).to.be.at.least(rowsBefore + duringPause.accepted.length);
    } finally {
      influxd.resume();
      if (module) await stopModule(module);
    }
  });

  it('holds one batch in flight and one read ahead while InfluxDB is down, however long, and delivers everything after', async () => {
    const dir = tempDir('long-outage');
    const maxBatchSize = 200;
    const outageConfig = config(dir, 'outage');
    outageConfig.destination.influxdb = { ...outageConfig.destination.influxdb, maxBatchSize };
    const module = await startModule(writeConfigFile(dir, outageConfig));
    try {
      await module.waitForOutput('is ready'); // an outage of a working target, not a setup that never ran
      await influxd.halt();
      const held: number[] = [];
      let accepted: string[] = [];
      try {
        for (let round = 0; round < 4; round += 1) {
          const load = await sendEventsUntil(module.baseUrl, sleep(3000), 20);
          accepted = [...accepted, ...load.accepted];
          const influx = await destinationHealth(module.baseUrl, 'influxdb');
          held.push(influx.buffered);
          // The backlog is in the journal, not in memory: it grows; what the loop holds does not.
          expect(influx.healthy).to.equal(false);
          expect((influx as { backlog?: number }).backlog).to.be.at.least(accepted.length - 2 * maxBatchSize);
        }
      } finally {
        await influxd.restart();
      }
      console.log(
        `      outage: ${accepted.length} events while InfluxDB was down; held in memory: ${held.join(' / ')}`,
      );
      expect(accepted.length).to.be.greaterThan(4 * maxBatchSize);
      for (const count of held) expect(count).to.be.at.most(2 * maxBatchSize);
      await eventually(
        async () => {
          const rows = await influxd.query('outage', 'SELECT count("eventId") AS n FROM audit_event');
          return Number(rows[0]?.n) >= accepted.length ? true : undefined;
        },
        180000,
        'InfluxDB to catch up from the journal',
      );
      expect((await influxEventIds(influxd, 'outage')).sort()).to.include.members(accepted);
    } finally {
      await stopModule(module);
    }
  });

  it('answers 503 when the journal is full, and recovers once destinations free space', async () => {
    const dir = tempDir('journal-full');
    const exportDirectory = path.join(dir, 'parquet');
    const module = await startModule(
      writeConfigFile(dir, {
        port: 0,
        rateLimit: { enable: false },
        shutdownTimeoutMs: 5000,
        journal: { directory: path.join(dir, 'journal'), maxBytes: 1048576 },
        destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency: 100 } },
      }),
    );
    try {
      renameSync(exportDirectory, `${exportDirectory}.moved`);
      writeFileSync(exportDirectory, 'not a directory'); // Parquet cannot write: the journal fills
      const segmentsWhileFull = () =>
        readdirSync(path.join(dir, 'journal')).filter((name) => name.endsWith('.seg')).length;
      const load = await sendEventsUntil(module.baseUrl, sleep(5000), 10);
      expect(load.statuses.get(503) ?? 0).to.be.greaterThan(0);
      const full = await fetch(`${module.baseUrl}/api/v1/audit-event`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(freshEnvelope('navigation.sheet.loaded')),
      });
      expect(full.status).to.equal(503);
      expect(full.headers.get('retry-after')).to.match(/^\d+$/);
      const fullBody = (await full.json()) as { reason: string };
      expect(fullBody.reason).to.match(/journal is full/);
      const segmentsFull = segmentsWhileFull();

      rmSync(exportDirectory);
      renameSync(`${exportDirectory}.moved`, exportDirectory); // the disk problem is fixed
      await eventually(
        async () => {
          const answer = await fetch(`${module.baseUrl}/api/v1/audit-event`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(freshEnvelope('navigation.sheet.loaded')),
          });
          return answer.status === 202 ? true : undefined;
        },
        60000,
        'the journal to accept again',
      );
      const rows = await eventually(
        async () => {
          const count = await countParquetRows(path.join(exportDirectory, '*.parquet'));
          return count >= load.accepted.length + 1 ? count : undefined;
        },
        60000,
        'Parquet to write what the journal held',
      );
      expect(rows).to.equal(load.accepted.length + 1);
      expect(segmentsWhileFull()).to.be.below(segmentsFull); // delivered segments were deleted
    } finally {
      await stopModule(module);
    }
  });
});
