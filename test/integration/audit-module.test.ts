/**
 * The whole module in-process (createAuditModule): HTTP over a real socket, Parquet on a real
 * file system. A destination that cannot write is made real too: its directory is replaced
 * by a file, so every write fails with ENOTDIR.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { ParquetPartFileSink } from '../../src/lib/audit-destinations/parquet/writer.js';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { postAuditEvent } from '../support/audit-api-client.js';
import { freshEnvelope } from '../support/fixtures.js';
import { tempDir } from '../support/module-process.js';
import { eventually } from '../support/eventually.js';
import { readDeadLetters } from '../support/journal-files.js';
import { readParquetEventIds, readParquetRows } from '../support/parquet-reader.js';

function configWith(raw: Record<string, unknown>): AuditEventsConfig {
  return validConfig({
    port: 0,
    rateLimit: { enable: false },
    journal: { directory: tempDir('module-journal') },
    ...raw,
  });
}

function breakDirectory(directory: string): void {
  renameSync(directory, `${directory}.moved`);
  writeFileSync(directory, 'not a directory');
}

describe('the audit module in-process', function () {
  this.timeout(60000);
  let running: AuditModule[] = [];

  async function start(config: AuditEventsConfig): Promise<string> {
    const module = createAuditModule(config, { logger: createSilentLogger(), version: '0.0.0-test' });
    running.push(module);
    const address = await module.start();
    if (!address) throw new Error('module did not start');
    return `http://127.0.0.1:${address.port}`;
  }

  afterEach(async () => {
    await Promise.all(running.map((module) => module.stop()));
    running = [];
  });

  it('writes every accepted event to Parquet per event when writeFrequency is 0', async () => {
    const exportDirectory = tempDir('module-per-event');
    const baseUrl = await start(
      configWith({ destination: { parquet: { exportDirectory, writeFrequency: 0 } } }),
    );
    const sent = [freshEnvelope('object.view.duration'), freshEnvelope('selection.state.changed')];
    for (const envelope of sent) expect((await postAuditEvent(baseUrl, envelope)).status).to.equal(202);
    await running[0].stop();
    running = [];
    const rows = await readParquetRows(path.join(exportDirectory, '*.parquet'));
    expect(rows.map((row) => row.eventId).sort()).to.deep.equal(
      sent.map((envelope) => envelope.eventId).sort(),
    );
  });

  it('keeps every envelope as received in the envelope column, what no other column holds included', async () => {
    const exportDirectory = tempDir('module-envelope');
    const baseUrl = await start(
      configWith({ destination: { parquet: { exportDirectory, writeFrequency: 0 } } }),
    );
    const screenshot = freshEnvelope('screenshot.url.received');
    // A field a later extension version might add, and the context's userAgent: no column of their own.
    const sent = {
      ...screenshot,
      payload: { ...screenshot.payload, laterField: { nested: ['kept', 1.5, null] } },
    };
    expect((await postAuditEvent(baseUrl, sent)).status).to.equal(202);
    await running[0].stop();
    running = [];
    const [row] = await readParquetRows(path.join(exportDirectory, '*.parquet'));
    expect(JSON.parse(row.envelope as string)).to.deep.equal(sent);
  });

  it('answers 503 with Retry-After once the in-memory log is full, and health says why', async () => {
    const exportDirectory = tempDir('module-full');
    const baseUrl = await start(
      configWith({
        journal: { enable: false },
        queue: { maxSize: 5 },
        shutdownTimeoutMs: 500,
        destination: { parquet: { exportDirectory, writeFrequency: 0 } },
      }),
    );
    breakDirectory(exportDirectory);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1)
      statuses.push((await postAuditEvent(baseUrl, freshEnvelope('navigation.sheet.loaded'))).status);
    expect(statuses).to.deep.equal([202, 202, 202, 202, 202]);
    const refused = await postAuditEvent(baseUrl, freshEnvelope('navigation.sheet.loaded'));
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
    expect(await refused.json()).to.include({ status: 'error', outcome: 'dropped' });

    const health = await fetch(`${baseUrl}/api/v1/health`);
    expect(health.status).to.equal(503);
    const body = (await health.json()) as {
      destinations: Array<{ id: string; lastError: string | null }>;
      log: { entries: number };
    };
    expect(body.destinations[0].id).to.equal('parquet');
    expect(body.destinations[0].lastError).to.match(/ENOTDIR|not a directory/);
    expect(body.log.entries).to.equal(5);
  });

  it('answers 503 to new events while it drains on shutdown', async () => {
    const exportDirectory = tempDir('module-draining');
    const baseUrl = await start(
      configWith({ shutdownTimeoutMs: 3000, destination: { parquet: { exportDirectory } } }),
    );
    expect((await postAuditEvent(baseUrl, freshEnvelope('navigation.sheet.loaded'))).status).to.equal(202);
    breakDirectory(exportDirectory); // the flush on shutdown now retries until the deadline
    const stopping = running[0].stop();
    running = [];
    const late = await postAuditEvent(baseUrl, freshEnvelope('navigation.sheet.loaded'));
    expect(late.status).to.equal(503);
    expect(late.headers.get('retry-after')).to.match(/^\d+$/);
    expect(await late.json()).to.include({ status: 'error', outcome: 'dropped', reason: 'shutting down' });
    await stopping;
  });

  it('accepts events without storing them when destination.enable is false', async () => {
    const exportDirectory = tempDir('module-no-destination');
    const baseUrl = await start(
      configWith({
        journal: { enable: false },
        queue: { maxSize: 2 },
        destination: { enable: false, parquet: { exportDirectory } },
      }),
    );
    for (let i = 0; i < 5; i += 1)
      expect((await postAuditEvent(baseUrl, freshEnvelope('navigation.sheet.loaded'))).status).to.equal(202);
    const health = await fetch(`${baseUrl}/api/v1/health`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.include({ destinations: [] });
  });
});

describe('a Parquet row that cannot be encoded', function () {
  this.timeout(60000);
  let module: AuditModule | undefined;
  let encode: sinon.SinonStub | undefined;

  afterEach(async () => {
    encode?.restore();
    await module?.stop();
  });

  it('costs one dead-letter record with the reason; every other row is written and every POST answered 202', async () => {
    const journalDirectory = tempDir('encode-fault-journal');
    const exportDirectory = tempDir('encode-fault-parquet');
    const poison = freshEnvelope('object.view.duration');
    // The fault is injected into the encoder step itself: any batch holding the poison fails to encode.
    const realEncode = ParquetPartFileSink.prototype.encodeRows;
    encode = sinon.stub(ParquetPartFileSink.prototype, 'encodeRows').callsFake(function (
      this: ParquetPartFileSink,
      items,
    ) {
      if (items.some((item) => item.value.eventId === poison.eventId)) {
        throw new Error('injected: cannot encode this row');
      }
      return realEncode.call(this, items);
    });
    const config = configWith({
      journal: { directory: journalDirectory },
      destination: { parquet: { exportDirectory, maxBatchSize: 100, writeFrequency: 200 } },
    });
    module = createAuditModule(config, { logger: createSilentLogger(), version: '0.0.0-test' });
    const address = await module.start();
    const baseUrl = `http://127.0.0.1:${address!.port}`;
    const others = Array.from({ length: 60 }, () => freshEnvelope('object.view.duration'));
    const sent = [...others.slice(0, 30), poison, ...others.slice(30)];
    const statuses: number[] = [];
    for (const envelope of sent) statuses.push((await postAuditEvent(baseUrl, envelope)).status);
    expect(statuses).to.deep.equal(sent.map(() => 202));

    const deadLetters = await eventually(async () => {
      const records = readDeadLetters(journalDirectory, 'parquet');
      return records.length > 0 ? records : undefined;
    });
    const rows = await eventually(async () => {
      const ids = await readParquetEventIds(path.join(exportDirectory, '*.parquet')).catch(() => []);
      return ids.length >= others.length ? ids : undefined;
    });
    expect(rows.sort()).to.deep.equal(others.map((envelope) => envelope.eventId).sort());
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]).to.include({ destination: 'parquet', eventId: poison.eventId, seq: 31 });
    expect(deadLetters[0].reason).to.equal('could not encode as Parquet: injected: cannot encode this row');
    expect((deadLetters[0] as { envelope?: unknown }).envelope).to.deep.equal(poison);
  });
});
