/**
 * The module as a user runs it: a child process started from a config file, events posted
 * over TCP, stopped with signals, and what landed read back from the Parquet files by DuckDB.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { postAuditEvent } from '../support/audit-api-client.js';
import { fixtureTypes, freshEnvelope, loadFixture } from '../support/fixtures.js';
import {
  REPO_ROOT,
  spawnModule,
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
} from '../support/module-process.js';
import { readParquetRows } from '../support/parquet-reader.js';

function parquetConfig(exportDirectory: string, extra: Record<string, unknown> = {}) {
  return {
    port: 0,
    rateLimit: { enable: false },
    journal: { directory: `${exportDirectory}-journal` },
    destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency: 600000 } },
    ...extra,
  };
}

function fingerprint(file: string) {
  const stat = statSync(file);
  return {
    mtimeMs: stat.mtimeMs,
    size: stat.size,
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
  };
}

describe('the module as a process', function () {
  this.timeout(120000);

  it('runs the embedded default (npm start): warns about the missing token, writes Parquet, exits 0 on SIGTERM', async () => {
    const workDir = tempDir('audit-default');
    const module = await startModule(path.join(REPO_ROOT, 'config', 'default.yaml'), {
      cwd: workDir,
      env: { NODE_CONFIG: JSON.stringify({ 'Butler-SOS': { auditEvents: { port: 0 } } }) },
    });
    expect(module.output.some((line) => line.includes('apiToken is empty'))).to.equal(true);
    expect(module.output.some((line) => line.includes('no damaged tail'))).to.equal(true); // the journal opened
    const sent = fixtureTypes().map(loadFixture);
    for (const envelope of sent) {
      const response = await postAuditEvent(module.baseUrl, envelope);
      expect(response.status, envelope.type).to.equal(202);
      expect(await response.json()).to.include({ status: 'accepted', outcome: 'processed' });
    }
    expect(await stopModule(module)).to.equal(0);
    const exportDir = path.join(workDir, 'audit-events', 'parquet');
    expect(readdirSync(exportDir)).to.deep.equal(['20261014_part1.parquet']);
    const rows = await readParquetRows(path.join(exportDir, '*.parquet'));
    expect(rows.map((row) => row.eventId).sort()).to.deep.equal(
      sent.map((envelope) => envelope.eventId).sort(),
    );
    const viewed = rows.find((row) => row.eventType === 'object.view.duration');
    expect(viewed).to.include({
      userDirectory: 'CORP',
      userId: 'anna.lindqvist',
      objectId: 'JpXkTr',
      durationMs: 30608n,
    });
  });

  it('exits 2 with one readable line per problem when the config is invalid', async () => {
    const dir = tempDir('audit-invalid');
    const file = writeConfigFile(dir, {
      port: 'eighty',
      destination: { type: 'parquet, kafka', parquet: { maxBatchSize: 0 } },
    });
    const run = spawnModule(['--configfile', file]);
    expect(await run.exited).to.equal(2);
    expect(run.output).to.deep.equal([
      `Invalid configuration in ${file} (3 problem(s)):`,
      "  Butler-SOS.auditEvents.port: is 'eighty', must be integer",
      '  Butler-SOS.auditEvents.destination.parquet.maxBatchSize: is 0, must be >= 1',
      "  Butler-SOS.auditEvents.destination.type: unknown destination 'kafka'; allowed: influxdb, parquet",
    ]);
  });

  it('exits 2 naming the file when it holds no Butler-SOS.auditEvents', async () => {
    const dir = tempDir('audit-empty');
    const file = path.join(dir, 'other.yaml');
    writeFileSync(file, 'Butler-SOS:\n  logLevel: info\n');
    const run = spawnModule(['-c', file]);
    expect(await run.exited).to.equal(2);
    expect(run.output).to.deep.equal([
      `Invalid configuration in ${file} (1 problem(s)):`,
      '  Butler-SOS.auditEvents: missing; add the section (config/production_template.yaml lists every key)',
    ]);
  });

  it('on SIGTERM writes every buffered event, and a restart appends part files without touching old ones', async () => {
    const dir = tempDir('audit-restart');
    const exportDir = path.join(dir, 'parquet');
    const file = writeConfigFile(dir, parquetConfig(exportDir));

    const first = await startModule(file);
    const firstBatch = Array.from({ length: 150 }, () => freshEnvelope('object.view.duration'));
    const answers = await Promise.all(firstBatch.map((envelope) => postAuditEvent(first.baseUrl, envelope)));
    expect(answers.map((answer) => answer.status)).to.deep.equal(firstBatch.map(() => 202));
    expect(readdirSync(exportDir)).to.deep.equal([]); // writeFrequency is 10 minutes: all buffered
    expect(await stopModule(first)).to.equal(0);
    expect(readdirSync(exportDir)).to.deep.equal(['20261014_part1.parquet']);
    const before = fingerprint(path.join(exportDir, '20261014_part1.parquet'));

    const second = await startModule(file);
    const secondBatch = Array.from({ length: 20 }, () => freshEnvelope('selection.state.changed'));
    for (const envelope of secondBatch)
      expect((await postAuditEvent(second.baseUrl, envelope)).status).to.equal(202);
    expect(await stopModule(second, 'SIGINT')).to.equal(0);

    expect(readdirSync(exportDir).sort()).to.deep.equal(['20261014_part1.parquet', '20261014_part2.parquet']);
    expect(fingerprint(path.join(exportDir, '20261014_part1.parquet'))).to.deep.equal(before);
    const rows = await readParquetRows(path.join(exportDir, '*.parquet'));
    expect(rows).to.have.length(170);
    expect(new Set(rows.map((row) => row.eventId))).to.deep.equal(
      new Set([...firstBatch, ...secondBatch].map((envelope) => envelope.eventId)),
    );
  });

  it('exits 0 at the shutdown deadline when a destination cannot write, and at once on a second signal', async () => {
    const dir = tempDir('audit-stuck');
    /** Replaces a directory by a file: every later write into it fails with ENOTDIR. */
    const breakDirectory = (directory: string) => {
      renameSync(directory, `${directory}.moved`);
      writeFileSync(directory, 'not a directory');
    };

    const boundedDir = path.join(dir, 'bounded');
    const bounded = await startModule(
      writeConfigFile(dir, parquetConfig(boundedDir, { shutdownTimeoutMs: 1500 }), 'bounded.yaml'),
    );
    expect((await postAuditEvent(bounded.baseUrl, freshEnvelope('navigation.sheet.loaded'))).status).to.equal(
      202,
    );
    breakDirectory(boundedDir);
    expect(await stopModule(bounded)).to.equal(0);
    expect(
      bounded.output.some((line) => line.includes('did not finish writing before the shutdown deadline')),
    ).to.equal(true);

    const patientDir = path.join(dir, 'patient');
    const impatient = await startModule(
      writeConfigFile(dir, parquetConfig(patientDir, { shutdownTimeoutMs: 600000 }), 'patient.yaml'),
    );
    expect(
      (await postAuditEvent(impatient.baseUrl, freshEnvelope('navigation.sheet.loaded'))).status,
    ).to.equal(202);
    breakDirectory(patientDir);
    impatient.child.kill('SIGTERM');
    await impatient.waitForOutput('SIGTERM received');
    expect(await stopModule(impatient, 'SIGTERM')).to.equal(1);
    expect(impatient.output.some((line) => line.includes('SIGTERM again: exiting now'))).to.equal(true);
  });
});
