/**
 * A really full disk under the journal: its directory is a small tmpfs, so appends fail with
 * the kernel's own ENOSPC long before journal.maxBytes (whose minimum is 1 MiB) is reached.
 * The module runs as a child process under a steady stream of POSTs, with Parquet on the
 * normal disk: a refused event gets 503 with Retry-After and the JSON error body, nothing
 * answered 202 is lost or written twice (DuckDB), the module accepts again once there is
 * room, without a restart, and what the journal leaves on disk reads back cleanly.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { sendEventsUntil, type LoadResult, type Refusal } from '../support/audit-api-client.js';
import { journalRecordSeqs } from '../support/journal-segments.js';
import {
  killRunningModules,
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
} from '../support/module-process.js';
import { readParquetEventIds } from '../support/parquet-reader.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';

const KiB = 1024;
/** Generous bounds for what the module does in its own time on a busy machine. */
const WAIT_MS = 60000;

/** How many answers have come since the last one that was not `status`. */
function trailing(result: LoadResult, status: number): number {
  let count = 0;
  while (count < result.answers.length && result.answers[result.answers.length - 1 - count] === status)
    count += 1;
  return count;
}

/** Every refusal is the journal's 503 for a full disk, in the API's one body shape. */
function expectDiskFullRefusals(refusals: Refusal[]): void {
  expect(refusals.length, 'refusals').to.be.greaterThan(0);
  for (const refusal of refusals) {
    expect(refusal.status).to.equal(503);
    expect(refusal.retryAfter, 'Retry-After').to.match(/^[1-9]\d*$/);
    expect(refusal.body).to.deep.include({ status: 'error', outcome: 'dropped' });
    expect((refusal.body as { reason: string }).reason).to.match(
      /^journal write failed: ENOSPC: no space left on device/,
    );
  }
}

/** Every event answered 202 is in the Parquet files, and each only once. */
async function expectEachAcceptedOnceInParquet(parquetGlob: string, accepted: string[]): Promise<void> {
  const written = await readParquetEventIds(parquetGlob);
  const lost = accepted.filter((eventId) => !written.includes(eventId));
  expect(lost, 'events answered 202 missing from Parquet').to.deep.equal([]);
  expect(written.length, 'rows in Parquet (each accepted event once)').to.equal(accepted.length);
  expect(new Set(written).size, 'distinct eventIds in Parquet').to.equal(accepted.length);
}

describe('the journal on a full disk (a real tmpfs)', function () {
  this.timeout(180000);
  let disk: Tmpfs | null = null;
  let dir: string | undefined;

  afterEach(async () => {
    await killRunningModules();
    disk?.unmount();
    disk = null;
    // Undefined when mounting the tmpfs failed: nothing to remove, and the set-up's error stands.
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A module whose journal is on the tmpfs and whose Parquet files are on the normal disk. */
  function setUp(diskBytes: number, writeFrequency: number) {
    disk = mountTmpfs(diskBytes, 'journal-disk');
    dir = tempDir('journal-disk-full');
    const parquetGlob = path.join(dir, 'parquet', '*.parquet');
    const configFile = writeConfigFile(dir, {
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 20000,
      journal: { directory: disk.directory, maxBytes: 1024 * KiB },
      destination: {
        type: 'parquet',
        parquet: { exportDirectory: path.join(dir, 'parquet'), writeFrequency, maxBatchSize: 100000 },
      },
    });
    return { disk, parquetGlob, configFile };
  }

  it('fills the disk with its own records, then frees what Parquet has written and accepts again, without more room or a restart', async () => {
    const { parquetGlob, configFile } = setUp(256 * KiB, 100);
    const module = await startModule(configFile);
    const deadline = Date.now() + WAIT_MS;
    const load = await sendEventsUntil(
      module.baseUrl,
      (soFar) => (soFar.refusals.length > 0 && trailing(soFar, 202) >= 50) || Date.now() > deadline,
      8,
    );
    expectDiskFullRefusals(load.refusals);
    expect(trailing(load, 202), '202s in a row after the disk was full').to.be.at.least(50);

    expect(await stopModule(module, 'SIGTERM')).to.equal(0);
    await expectEachAcceptedOnceInParquet(parquetGlob, load.accepted);
  });

  it('answers 503 while the disk is full, accepts again once there is room, without a restart, and replays every accepted event after kill -9', async () => {
    // Parquet writes nothing before the module stops, so the journal cannot free any room itself.
    const { disk, parquetGlob, configFile } = setUp(256 * KiB, 600000);
    let module = await startModule(configFile);
    const deadline = Date.now() + WAIT_MS;
    const untilFull = await sendEventsUntil(
      module.baseUrl,
      (soFar) => trailing(soFar, 503) >= 50 || Date.now() > deadline,
      8,
    );
    expect(trailing(untilFull, 503), '503s in a row once the disk is full').to.be.at.least(50);
    expectDiskFullRefusals(untilFull.refusals);

    disk.resize(4096 * KiB);
    const afterRoom = await sendEventsUntil(module.baseUrl, (soFar) => soFar.answers.length >= 200, 8);
    expect([...afterRoom.statuses.keys()], 'answers once there is room again').to.deep.equal([202]);
    const accepted = [...untilFull.accepted, ...afterRoom.accepted];

    // A crash: every accepted event is in the journal alone, which went through the failed writes.
    expect(await stopModule(module, 'SIGKILL')).to.equal('SIGKILL');
    const stored = await journalRecordSeqs(disk.directory);
    expect(stored, 'records in the segments, one per accepted event').to.have.length(accepted.length);

    module = await startModule(configFile);
    const journalLine = await module.waitForOutput('segment(s),');
    expect(await stopModule(module, 'SIGTERM')).to.equal(0); // writes what the journal holds
    expect(journalLine).to.include('no damaged tail');
    await expectEachAcceptedOnceInParquet(parquetGlob, accepted);
  });
});
