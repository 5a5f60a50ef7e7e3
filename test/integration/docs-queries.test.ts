/**
 * The query examples in docs/ are run here against data the module wrote, so that a user who
 * copies one gets an answer, not a syntax error.
 */
import path from 'node:path';
import { expect } from 'chai';
import { AuditEventProcessor } from '../../src/lib/audit-events/processor.js';
import { createInfluxdbDestination } from '../../src/lib/audit-destinations/influxdb/buffer.js';
import { createParquetDestination } from '../../src/lib/audit-destinations/parquet/writer.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { fixtureTypes, loadFixture } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { codeBlocks } from '../support/markdown.js';
import { tempDir } from '../support/module-process.js';
import { runDuckDbQuery } from '../support/parquet-reader.js';

/** One record per fixture, as the module builds them (handler extras included). */
async function fixtureRecords(timestamp?: string): Promise<AuditRecord[]> {
  const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 1, logger: createSilentLogger() });
  return Promise.all(
    fixtureTypes().map((type, index) => {
      const envelope = loadFixture(type);
      return processor.recordFor({ seq: index + 1, envelope: timestamp ? { ...envelope, timestamp } : envelope });
    }),
  );
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
    for (const record of await fixtureRecords()) destination.writeAuditEvent(record);
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
      destination: { type: 'influxdb', influxdb: { host: '127.0.0.1', port: influxd.port, version: 1, v1Config: { dbName: 'docs' } } },
    });
    const destination = createInfluxdbDestination(config.destination.influxdb!, {
      logger: createSilentLogger(),
      deadLetterDirectory: tempDir('docs-dead-letter'),
    });
    await destination.ready;
    for (const record of await fixtureRecords(new Date().toISOString())) destination.writeAuditEvent(record);
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
