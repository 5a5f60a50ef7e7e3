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
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { deliverRecords } from '../support/deliver.js';
import { fixtureTypes, loadFixture } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { codeBlocks } from '../support/markdown.js';
import { tempDir } from '../support/module-process.js';
import { runDuckDbQuery } from '../support/parquet-reader.js';
import { FIXTURE_CORRELATION_ID, realisticDay, type RealisticDay } from '../support/realistic-day.js';
import { writeThroughModule } from '../support/write-through-module.js';

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
  return validConfig(raw);
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

describe('query examples in docs/queries.md, over a realistic day the module wrote', function () {
  this.timeout(120000);
  const workDir = tempDir('docs-queries-day');
  const db = 'butler-audit';
  let influxd: InfluxdServer;
  let day: RealisticDay;

  before(async () => {
    influxd = await startInfluxd();
    day = realisticDay();
    await writeThroughModule(day.envelopes, { influx: { port: influxd.port, dbName: db }, baseDir: workDir });
  });

  after(async () => {
    await influxd?.stop();
  });

  const file = path.join('docs', 'queries.md');
  const influxql = codeBlocks(file, 'influxql');
  const sql = codeBlocks(file, 'sql');

  it('answers each question in InfluxQL and in SQL', () => {
    expect(influxql.length).to.be.greaterThan(5);
    expect(sql.length).to.be.greaterThan(5);
  });

  for (const [index, query] of influxql.entries()) {
    it(`InfluxQL example ${index + 1} answers with rows: ${query.slice(0, 70)}`, async () => {
      const rows = await influxd.query(db, query.trim());
      expect(rows.length).to.be.greaterThan(0);
    });
  }

  for (const [index, query] of sql.entries()) {
    it(`SQL example ${index + 1} answers with rows: ${query.split('\n')[0]}`, async () => {
      const rows = await runDuckDbQuery(query, workDir);
      expect(rows.length).to.be.greaterThan(0);
    });
  }

  it("the InfluxQL trail answers with exactly the session's events, in time order", async () => {
    const trail = influxql.find((query) => query.includes(FIXTURE_CORRELATION_ID));
    expect(trail, 'an InfluxQL example names the fixtures session').to.be.a('string');
    const rows = await influxd.query(db, trail!.trim());
    const session = day.envelopes.filter(
      (envelope) =>
        envelope.correlationId === FIXTURE_CORRELATION_ID ||
        envelope.payload.event?.selectionTxnId === FIXTURE_CORRELATION_ID,
    );
    expect(rows.map((row) => row.eventType)).to.deep.equal(session.map((envelope) => envelope.type));
  });

  it("the SQL trail answers with exactly the user's latest session", async () => {
    const trail = sql.find((query) => query.includes('WITH latest'));
    expect(trail, 'a SQL example finds the latest session').to.be.a('string');
    const rows = await runDuckDbQuery(trail!, workDir);
    const latest = day.sessions.filter((session) => session.user.id === 'anna.lindqvist').at(-1)!;
    const session = day.envelopes.filter((envelope) => envelope.correlationId === latest.correlationId);
    expect(rows.map((row) => row.eventType)).to.deep.equal(session.map((envelope) => envelope.type));
  });

  // After every test that reads anna.lindqvist's rows: it deletes them.
  it("docs/security.md: the SQL finds the files holding a user's rows, and the InfluxQL deletes that user's points", async () => {
    const file = path.join('docs', 'security.md');
    const [findFiles] = codeBlocks(file, 'sql');
    const [erase] = codeBlocks(file, 'influxql');
    const annas = day.envelopes.filter((envelope) =>
      envelope.payload.context?.user?.includes('anna.lindqvist'),
    );
    const files = await runDuckDbQuery(findFiles, workDir);
    expect(files.length).to.be.greaterThan(0);
    expect(files.reduce((sum, row) => sum + Number(row.rows), 0)).to.equal(annas.length);
    const count = async (condition: string) => {
      const [row] = await influxd.query(
        db,
        `SELECT count("eventId") AS "n" FROM "audit_event" WHERE ${condition}`,
      );
      return Number(row?.n ?? 0);
    };
    expect(await count(`"userId" = 'anna.lindqvist'`)).to.equal(annas.length);
    await influxd.query(db, erase.trim());
    expect(await count(`"userId" = 'anna.lindqvist'`)).to.equal(0);
    expect(await count(`"userId" <> 'anna.lindqvist'`)).to.equal(day.envelopes.length - annas.length);
  });

  it('refuses a single backslash in an InfluxQL string, as the page warns', async () => {
    // In TypeScript source '\\' is one backslash: the query holds 'CORP\anna.lindqvist'.
    const query = `SELECT count("eventId") FROM "audit_event" WHERE "user" = 'CORP\\anna.lindqvist' AND time > now() - 1d`;
    const answer = await influxd.queryRaw(db, query);
    expect(answer.error).to.include('found \\a, expected identifier, string, number, bool');
  });
});
