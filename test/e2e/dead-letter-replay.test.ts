/**
 * Dead letters, replayed: an event InfluxDB refused (a field type conflict) is listed with its
 * reason; once the cause is fixed, `butler-sos-audit-dead-letters replay` puts it back into the
 * journal for InfluxDB only, the module delivers it there (and Parquet, which stored it the first
 * time, does not store it again), and a second replay adds nothing. The journal has one writer:
 * a replay while the module runs is refused.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { postAuditEventStatus } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { readDeadLetters } from '../support/journal-files.js';
import { journalRecordSeqs } from '../support/journal-segments.js';
import {
  REPO_ROOT,
  killRunningModules,
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
} from '../support/module-process.js';
import { readParquetEventIds } from '../support/parquet-reader.js';

const runFile = promisify(execFile);
const DEAD_LETTERS = path.join(REPO_ROOT, 'dist', 'dead-letters.js');

async function deadLetterCommand(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [DEAD_LETTERS, ...args]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe('dead letters, replayed once the cause is fixed', function () {
  this.timeout(180_000);
  let influxd: InfluxdServer;

  before(async () => {
    influxd = await startInfluxd();
  });

  afterEach(killRunningModules);

  after(async () => {
    await influxd.stop();
  });

  it('lists the refused event, replays it into InfluxDB only, and a second replay adds nothing', async () => {
    const dir = tempDir('dead-letter-replay');
    const journal = path.join(dir, 'journal');
    const exportDirectory = path.join(dir, 'parquet');
    const configFile = writeConfigFile(dir, {
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 10_000,
      journal: { directory: journal },
      destination: {
        type: 'influxdb, parquet',
        parquet: { exportDirectory, writeFrequency: 100 },
        influxdb: {
          host: '127.0.0.1',
          port: influxd.port,
          version: 1,
          writeFrequency: 100,
          v1Config: { dbName: 'replay' },
        },
      },
    });
    // `visible` already stored as a string: a view event, whose `visible` is a boolean, conflicts.
    await influxd.ddl('CREATE DATABASE replay');
    expect((await influxd.write('replay', `audit_event visible="yes" ${Date.now()}000000`)).status).to.equal(
      204,
    );

    const first = await startModule(configFile);
    await first.waitForOutput('is ready');
    const poison = freshEnvelope('object.view.duration', { timestamp: new Date().toISOString() });
    const good = freshEnvelope('navigation.sheet.loaded', { timestamp: new Date().toISOString() });
    expect(await postAuditEventStatus(first.baseUrl, good)).to.equal(202);
    expect(await postAuditEventStatus(first.baseUrl, poison)).to.equal(202);
    const [refused] = await eventually(async () => {
      const records = readDeadLetters(journal, 'influxdb');
      return records.length > 0 ? records : undefined;
    });
    expect(refused.eventId).to.equal(poison.eventId);
    const running = await deadLetterCommand(['replay', refused.file, '-c', configFile]);
    expect(running.code).to.equal(1);
    expect(running.output).to.match(/is in use by process \d+: stop it first/);
    expect(await stopModule(first)).to.equal(0);

    const listed = await deadLetterCommand(['list', refused.file]);
    expect(listed.code).to.equal(0);
    expect(listed.output).to.include(`influxdb event ${poison.eventId}`).and.include('field type conflict');

    await influxd.ddl('DROP MEASUREMENT audit_event', 'replay'); // the cause, fixed
    const replayed = await deadLetterCommand(['replay', refused.file, '-c', configFile]);
    expect(replayed.output).to.include('replayed 1 event(s) into the journal; 0 replayed before');

    const second = await startModule(configFile);
    await eventually(async () => {
      const rows = await influxd.query(
        'replay',
        `SELECT "eventId" FROM audit_event WHERE "eventId" = '${poison.eventId}'`,
      );
      return rows.length === 1 ? true : undefined;
    });
    expect(await stopModule(second)).to.equal(0);
    const parquetIds = await readParquetEventIds(path.join(exportDirectory, '*.parquet'));
    expect(parquetIds.filter((id) => id === poison.eventId)).to.have.length(1); // not stored twice

    const recordsBefore = (await journalRecordSeqs(journal)).length;
    const again = await deadLetterCommand(['replay', refused.file, '-c', configFile]);
    expect(again.output).to.include('replayed 0 event(s) into the journal; 1 replayed before');
    expect((await journalRecordSeqs(journal)).length).to.equal(recordsBefore);
  });
});
