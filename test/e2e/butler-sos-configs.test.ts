/**
 * Butler SOS config files as their users have them, run by the compiled program: Butler SOS
 * 15.0.1's whole production_template.yaml with a 15.0.x auditEvents section switched on, and the
 * same template with the older template's section. Each starts, warns once about each Butler SOS
 * feature this module does not have, stores an event where the file says, and logs to the daily
 * file in logDirectory that the file asks for.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { dump, load } from 'js-yaml';
import { FIXTURES_DIR, freshEnvelope } from '../support/fixtures.js';
import { postAuditEventStatus } from '../support/audit-api-client.js';
import {
  killRunningModules,
  spawnModule,
  startModule,
  stopModule,
  tempDir,
} from '../support/module-process.js';
import { readParquetRows } from '../support/parquet-reader.js';

type Tree = Record<string, unknown>;

function yamlFixture(name: string): Tree {
  return load(readFileSync(path.join(FIXTURES_DIR, 'butler-sos', name), 'utf8')) as Tree;
}

/** Butler SOS 15.0.1's template with `auditEvents` in place, written as `production.yaml` in `dir`. */
function butlerSosFile(dir: string, auditEvents: Tree): string {
  const template = yamlFixture('production_template-15.0.1.yaml');
  (template['Butler-SOS'] as Tree).auditEvents = auditEvents;
  const file = path.join(dir, 'production.yaml');
  writeFileSync(file, dump(template));
  return file;
}

function auditEventsOf(tree: Tree): Tree {
  return (tree['Butler-SOS'] as Tree).auditEvents as Tree;
}

/** The module's own lines in the daily log files of `<cwd>/log` (the template's logDirectory). */
function loggedToFile(cwd: string): string {
  const directory = path.join(cwd, 'log');
  if (!existsSync(directory)) return '';
  return readdirSync(directory)
    .filter((name) => /^butler-sos\.\d{4}-\d{2}-\d{2}\.\d+\.log$/.test(name))
    .map((name) => readFileSync(path.join(directory, name), 'utf8'))
    .join('');
}

async function storesAnEvent(file: string, cwd: string, exportDirectory: string): Promise<string[]> {
  const module = await startModule(file, { cwd });
  const envelope = freshEnvelope('object.view.duration');
  expect(await postAuditEventStatus(module.baseUrl, envelope)).to.equal(202);
  expect(await stopModule(module)).to.equal(0);
  const rows = await readParquetRows(path.join(exportDirectory, '*.parquet'));
  expect(rows.map((row) => row.eventId)).to.deep.equal([envelope.eventId]);
  return module.output;
}

describe('Butler SOS config files, as they are', function () {
  this.timeout(120_000);
  afterEach(killRunningModules);

  it("Butler SOS 15.0.1's production template with a 15.0.x auditEvents section starts and stores an event where it says", async () => {
    const cwd = tempDir('butler-sos-15');
    const exportDirectory = path.join(cwd, 'parquet-from-metadata');
    const section = auditEventsOf(yamlFixture('audit-events-15.0.x.yaml'));
    const parquet = (section.destination as Tree).parquet as { metadata: Tree };
    parquet.metadata.exportDirectory = exportDirectory;
    const output = await storesAnEvent(butlerSosFile(cwd, section), cwd, exportDirectory);

    const warnings = output.filter((line) => / warn: /.test(line));
    expect(warnings.filter((line) => line.includes("'qvd' is a Butler SOS destination"))).to.have.length(1);
    expect(warnings.filter((line) => line.includes("'json' is a Butler SOS destination"))).to.have.length(1);
    // The template's own settings: info level (no debug lines), and a daily file in logDirectory.
    expect(output.some((line) => / debug: /.test(line))).to.equal(false);
    expect(loggedToFile(cwd)).to.include('audit API listening on http://127.0.0.1:');
  });

  it("the older template's auditEvents section (the seeds' layout, auditEvents.screenshots) starts and stores an event", async () => {
    const cwd = tempDir('butler-sos-older');
    const exportDirectory = path.join(cwd, 'parquet-older');
    const section = auditEventsOf(yamlFixture('audit-events-older-template.yaml'));
    // What a user switching it on changes: enable, a port, where Parquet goes.
    Object.assign(section, { enable: true, host: '127.0.0.1', port: 0 });
    Object.assign(section.destination as Tree, { enable: true, type: 'parquet, qvd' });
    Object.assign((section.destination as Tree).parquet as Tree, { exportDirectory, writeFrequency: 500 });
    const output = await storesAnEvent(butlerSosFile(cwd, section), cwd, exportDirectory);
    expect(output.filter((line) => line.includes("'qvd' is a Butler SOS destination"))).to.have.length(1);
    expect(output.some((line) => line.includes("cors.allowedOrigins contains '*'"))).to.equal(true);
  });

  it('takes -l over Butler-SOS.logLevel', async () => {
    const cwd = tempDir('butler-sos-loglevel');
    const section = auditEventsOf(yamlFixture('audit-events-15.0.x.yaml'));
    ((section.destination as Tree).parquet as { metadata: Tree }).metadata.exportDirectory = path.join(
      cwd,
      'p',
    );
    const started = spawnModule(['-c', butlerSosFile(cwd, section), '-l', 'debug'], { cwd });
    const listening = await started.waitForOutput('audit API listening on');
    const port = Number(/:(\d+);/.exec(listening)?.[1]);
    const envelope = freshEnvelope('navigation.sheet.loaded');
    expect(await postAuditEventStatus(`http://127.0.0.1:${port}`, envelope)).to.equal(202);
    started.child.kill('SIGTERM');
    expect(await started.exited).to.equal(0);
    expect(started.output.some((line) => line.includes(` debug: audit event ${envelope.eventId}`))).to.equal(
      true,
    );
  });

  it('exits 2 naming both paths when one setting is given in both layouts', async () => {
    const cwd = tempDir('butler-sos-both');
    const section = auditEventsOf(yamlFixture('audit-events-15.0.x.yaml'));
    const parquet = (section.destination as Tree).parquet as Tree & { metadata: Tree };
    parquet.metadata.exportDirectory = path.join(cwd, 'a');
    parquet.exportDirectory = path.join(cwd, 'b');
    const started = spawnModule(['-c', butlerSosFile(cwd, section)], { cwd });
    expect(await started.exited).to.equal(2);
    expect(started.output).to.include(
      '  Butler-SOS.auditEvents.destination.parquet.exportDirectory and ' +
        'Butler-SOS.auditEvents.destination.parquet.metadata.exportDirectory are the same setting in two layouts: ' +
        'keep one of them',
    );
  });
});
