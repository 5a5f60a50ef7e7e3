/**
 * A poison event (one InfluxDB refuses for its content) leaves the journal only once its
 * dead-letter record is on disk. The dead-letter directory is put on a real full disk (a
 * tmpfs filled but for one page): the poison must then stay unacked, behind the journal
 * checkpoint, across a restart of the module, while the good events around it are stored;
 * once there is room it is dead-lettered with the server's reason and the checkpoint passes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { postAuditEventStatus } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { readDeadLetters, readSavedCheckpoints } from '../support/journal-files.js';
import {
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
  type ModuleProcess,
} from '../support/module-process.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';

const DATABASE = 'dead_letter_durability';
const MiB = 1024 * 1024;
const PAGE = 4096;

/** An event of now (InfluxDB keeps it in the shard of the seed point), with a fresh eventId. */
function eventNow(type: string): AuditEnvelope {
  return freshEnvelope(type, { timestamp: new Date().toISOString() });
}

describe('dead letter before ack (InfluxDB v1, dead-letter directory on a full disk)', function () {
  this.timeout(120000);
  let influxd: InfluxdServer;
  let tmpfs: Tmpfs | null = null;
  let running: ModuleProcess[] = [];

  before(async () => {
    influxd = await startInfluxd();
  });

  after(async () => {
    await influxd.stop();
  });

  afterEach(async () => {
    // Modules first: a file system with open files cannot be unmounted.
    await Promise.all(
      running
        .filter((module) => module.child.exitCode === null)
        .map((module) => stopModule(module, 'SIGKILL')),
    );
    running = [];
    tmpfs?.unmount();
    tmpfs = null;
  });

  async function start(configFile: string): Promise<ModuleProcess> {
    const module = await startModule(configFile);
    running.push(module);
    return module;
  }

  async function postAll(module: ModuleProcess, envelopes: AuditEnvelope[]): Promise<void> {
    for (const envelope of envelopes)
      expect(await postAuditEventStatus(module.baseUrl, envelope)).to.equal(202);
  }

  async function storedEventIds(): Promise<string[]> {
    const rows = await influxd.query(DATABASE, 'SELECT "eventId" FROM audit_event');
    return rows.map((row) => String(row.eventId));
  }

  async function allStored(envelopes: AuditEnvelope[]): Promise<void> {
    await eventually(
      async () => {
        const stored = new Set(await storedEventIds());
        return envelopes.every((envelope) => stored.has(envelope.eventId)) ? true : undefined;
      },
      60000,
      `${envelopes.length} good events in influxd`,
    );
  }

  /** Log lines of failed writes on the kernel's full-disk error: the dead-letter append failed. */
  const fullDiskFailures = (module: ModuleProcess) =>
    module.output.filter((line) => line.includes('write of') && line.includes('ENOSPC')).length;

  it('keeps the poison event unacked in the journal until its dead-letter record is durable', async () => {
    const dir = tempDir('dead-letter-full');
    const journalDirectory = path.join(dir, 'journal');
    tmpfs = mountTmpfs(MiB, 'dead-letter-full');
    // <journal>/dead-letter is a folder on the tmpfs; the filler file stays outside it.
    mkdirSync(journalDirectory);
    mkdirSync(path.join(tmpfs.directory, 'dead-letter'));
    symlinkSync(path.join(tmpfs.directory, 'dead-letter'), path.join(journalDirectory, 'dead-letter'));
    const configFile = writeConfigFile(dir, {
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 2000, // the poison cannot be written: stop gives up on it after this
      journal: { directory: journalDirectory },
      destination: {
        type: 'influxdb',
        influxdb: {
          host: '127.0.0.1',
          port: influxd.port,
          version: 1,
          writeFrequency: 200,
          v1Config: { dbName: DATABASE, retentionPolicy: { name: 'audit', duration: '52w' } },
        },
      },
    });

    const first = await start(configFile);
    await first.waitForOutput('is ready'); // database and default retention policy exist
    // `visible` already stored as a string: the one event carrying a boolean `visible` conflicts.
    const seeded = await influxd.write(DATABASE, `audit_event visible="yes",seed="seed" ${Date.now()}000000`);
    expect(seeded.status).to.equal(204);
    // Full but for one page, and a poison record larger than that: each failed append writes
    // part of a line first, which must not spoil the record written once there is room.
    tmpfs.fill();
    tmpfs.resize(MiB + PAGE);

    const before = Array.from({ length: 5 }, () => eventNow('navigation.sheet.loaded'));
    const poison = eventNow('object.view.duration');
    poison.payload.event!.objectData = {
      objectType: 'table',
      blob: randomBytes(2 * PAGE).toString('base64'),
    };
    const after = Array.from({ length: 5 }, () => eventNow('navigation.sheet.loaded'));
    await postAll(first, [...before, poison, ...after]);
    // A fresh journal numbers the events from 1 in the order they were answered.
    const poisonSeq = before.length + 1;

    await allStored([...before, ...after]);
    // Wait until the poison's fate is settled either way: its dead-letter append failed on the
    // full disk, or (the bug) it was acked and the checkpoint moved past it.
    const checkpoint = await eventually(
      async () => {
        const saved = readSavedCheckpoints(journalDirectory).influxdb ?? 0;
        const settled = fullDiskFailures(first) > 0 || saved >= poisonSeq;
        return saved >= poisonSeq - 1 && settled ? saved : undefined;
      },
      60000,
      'the dead-letter append of the poison to fail or the checkpoint to pass it',
    );
    expect(checkpoint, 'influxdb checkpoint while the dead letter cannot be written').to.equal(poisonSeq - 1);
    expect(readDeadLetters(journalDirectory)).to.deep.equal([]);

    expect(await stopModule(first)).to.equal(0);
    expect(readSavedCheckpoints(journalDirectory).influxdb, 'checkpoint after a clean stop').to.equal(
      poisonSeq - 1,
    );

    // After a restart the poison is read from the journal again and fails again on the full
    // disk; good events posted meanwhile are stored past it.
    const second = await start(configFile);
    const meanwhile = Array.from({ length: 2 }, () => eventNow('navigation.sheet.loaded'));
    await postAll(second, meanwhile);
    await allStored(meanwhile);
    await eventually(
      async () => (fullDiskFailures(second) > 0 ? true : undefined),
      60000,
      'the replayed poison to fail on the full disk again',
    );
    expect(readSavedCheckpoints(journalDirectory).influxdb, 'checkpoint after the restart').to.equal(
      poisonSeq - 1,
    );

    tmpfs.resize(16 * MiB);
    const lastSeq = before.length + 1 + after.length + meanwhile.length;
    const deadLetters = await eventually(
      async () => {
        const records = readDeadLetters(journalDirectory);
        return records.length > 0 ? records : undefined;
      },
      60000,
      'the dead-letter record',
    );
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]).to.include({
      destination: 'influxdb',
      eventId: poison.eventId,
      seq: poisonSeq,
      status: 400,
    });
    expect(deadLetters[0].reason).to.include('field type conflict');
    expect(deadLetters[0].payload).to.include(poison.eventId);
    await eventually(
      async () => ((readSavedCheckpoints(journalDirectory).influxdb ?? 0) >= lastSeq ? true : undefined),
      30000,
      `the checkpoint to pass the poison (#${poisonSeq}) up to #${lastSeq}`,
    );
    expect(await stopModule(second)).to.equal(0);

    // Nothing lost: every good event stored once, the poison only in the dead-letter file.
    expect(readSavedCheckpoints(journalDirectory)).to.deep.equal({ influxdb: lastSeq });
    expect(readDeadLetters(journalDirectory)).to.have.length(1);
    const stored = await storedEventIds();
    expect([...stored].sort()).to.deep.equal(
      [...before, ...after, ...meanwhile].map((envelope) => envelope.eventId).sort(),
    );
    expect(stored).to.not.include(poison.eventId);
  });
});
