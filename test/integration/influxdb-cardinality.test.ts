/**
 * Why idTags is false by default on v1 (docs/influxdb.md), on a real influxd 1.x with its default settings (max-values-per-tag = 100000):
 * with the IDs as fields (the v1 default) 101,000 distinct events are all stored; with the
 * seeds' layout (IDs as tags) every event after the 100,000th is refused, and each refused
 * one lands in the dead-letter file instead of blocking the rest.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createInfluxdbDestination } from '../../src/lib/audit-destinations/influxdb/buffer.js';
import { DeadLetterFile } from '../../src/lib/audit-destinations/dead-letter.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { makeAuditRecord } from '../support/audit-records.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { deliverRecords } from '../support/deliver.js';
import { tempDir } from '../support/module-process.js';

const EVENTS = 101_000;
const START_MS = Date.parse('2026-10-14T08:00:00.000Z');

describe('InfluxDB v1 with default server settings: 101,000 distinct events', function () {
  this.timeout(600000);
  let influxd: InfluxdServer;

  before(async () => {
    influxd = await startInfluxd(); // max-values-per-tag left at InfluxDB's default, 100000
  });

  after(async () => {
    await influxd.stop();
  });

  async function writeDistinctEvents(dbName: string, idTags: boolean): Promise<DeadLetterFile> {
    const deadLetters = new DeadLetterFile(tempDir('cardinality-dead-letter'), 'influxdb');
    const config = validConfig({
      destination: {
        type: 'influxdb',
        influxdb: {
          host: '127.0.0.1',
          port: influxd.port,
          version: 1,
          idTags,
          // Small enough that no write nears the 10 s request timeout on a loaded machine: a write
          // abandoned by the client while influxd still creates its series, then retried, may make
          // influxd count those tag values twice and reach its limit early.
          maxBatchSize: 1000,
          writeFrequency: 600000,
          v1Config: { dbName },
        },
      },
    });
    const destination = createInfluxdbDestination(config.destination.influxdb!, {
      logger: createSilentLogger(),
    });
    await destination.ready;
    const records = Array.from({ length: EVENTS }, (_, index) =>
      makeAuditRecord({ timestampMs: START_MS + index }),
    );
    await deliverRecords(destination, records, { deadLetters });
    await destination.close();
    return deadLetters;
  }

  async function countStored(dbName: string): Promise<number> {
    const rows = await influxd.query(dbName, 'SELECT count("durationMs") AS n FROM audit_event');
    return Number(rows[0]?.n ?? 0);
  }

  it('stores all of them with the IDs as fields (idTags: false, the v1 default)', async () => {
    await writeDistinctEvents('audit_fields', false);
    expect(await countStored('audit_fields')).to.equal(EVENTS);
  });

  it("refuses every event after the 100,000th with the seeds' IDs as tags, dead-lettering each", async () => {
    const deadLetters = await writeDistinctEvents('audit_tags', true);
    const stored = await countStored('audit_tags');
    const refused = readFileSync(deadLetters.currentPath(), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { reason: string });
    // First: nothing lost, whatever influxd's limit did; then: the limit where InfluxDB puts it.
    expect(stored + refused.length, `stored ${stored}, dead-lettered ${refused.length}`).to.equal(EVENTS);
    expect(stored, `first refusal: ${refused[0]?.reason}`).to.equal(100_000);
    expect(refused).to.have.length(EVENTS - 100_000);
    expect(refused.every((entry) => entry.reason.includes('max-values-per-tag limit exceeded'))).to.equal(
      true,
    );
  });
});
