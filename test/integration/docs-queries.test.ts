/**
 * The query examples in docs/ are run here against data the module wrote, so that a user who
 * copies one gets an answer, not a syntax error.
 */
import path from 'node:path';
import { expect } from 'chai';
import { AuditEventProcessor } from '../../src/lib/delivery/processor.js';
import { createInfluxdbDestination } from '../../src/lib/audit-destinations/influxdb/buffer.js';
import { createParquetDestination } from '../../src/lib/audit-destinations/parquet/writer.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { deliverRecords } from '../support/deliver.js';
import { fixtureTypes, loadFixture } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { codeBlocks } from '../support/markdown.js';
import { tempDir } from '../support/module-process.js';
import { runDuckDbQuery } from '../support/parquet-reader.js';

/** One record per fixture, as the module builds them (handler extras included). */
async function fixtureRecords(timestamp?: string): Promise<AuditRecord[]> {
  const processor = new AuditEventProcessor({
    maxConcurrent: 1,
    readers: 1,
    maxShared: 1,
    logger: createSilentLogger(),
  });
  const entries = fixtureTypes().map((type, index) => {
    const envelope = loadFixture(type);
    return { seq: index + 1, envelope: timestamp ? { ...envelope, timestamp } : envelope };
  });
  return (await processor.recordsFor(entries)).map((built) => {
    if (!('record' in built)) throw new Error(built.failure);
    return built.record;
  });
}

function defaultConfig(raw: Record<string, unknown> = {}) {
  const validation = validateAuditEventsConfig(raw);
  if (!validation.ok) throw new Error(validation.problems.join('\n'));
  return validation.config;
}

describe('query examples in docs/parquet.md', () => {
  const workDir = tempDir('docs-parquet');

  before(async () => {
    const destination = await createParquetDestination(defaultConfig().destination.parquet, {
      logger: createSilentLogger(),
      baseDir: workDir,
    });
    await deliverRecords(destination, await fixtureRecords());
    await destination.close();
  });

  const queries = codeBlocks(path.join('docs', 'parquet.md'), 'sql');

  it('has examples to run', () => {
    expect(queries.length).to.be.greaterThan(1);
  });

  for (const [index, sql] of queries.entries()) {
    it(`example ${index + 1} answers with rows: ${sql.split('\n')[0]}`, async () => {
      const rows = await runDuckDbQuery(sql, workDir);
      expect(rows.length).to.be.greaterThan(0);
    });
  }
});

describe('query examples in docs/influxdb.md', function () {
  this.timeout(60000);
  let influxd: InfluxdServer;

  before(async () => {
    influxd = await startInfluxd();
    const config = defaultConfig({
      destination: {
        type: 'influxdb',
        influxdb: { host: '127.0.0.1', port: influxd.port, version: 1, v1Config: { dbName: 'docs' } },
      },
    });
    const destination = createInfluxdbDestination(config.destination.influxdb!, {
      logger: createSilentLogger(),
    });
    await destination.ready;
    await deliverRecords(destination, await fixtureRecords(new Date().toISOString()));
    await destination.close();
  });

  after(async () => {
    await influxd.stop();
  });

  const queries = codeBlocks(path.join('docs', 'influxdb.md'), 'influxql');

  it('has examples to run', () => {
    expect(queries.length).to.be.greaterThan(1);
  });

  for (const [index, influxql] of queries.entries()) {
    it(`example ${index + 1} answers with rows: ${influxql.slice(0, 60)}`, async () => {
      const rows = await influxd.query('docs', influxql.trim());
      expect(rows.length).to.be.greaterThan(0);
    });
  }
});
