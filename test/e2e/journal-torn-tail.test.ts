/**
 * A torn journal tail across real processes: the module is killed with SIGKILL, the tail of
 * its last journal segment is torn as a crash in the middle of a write leaves it, and the
 * module must cut it at the next start, go on accepting, and keep what it accepts after the
 * recovery through the next kill -9 as well: everything answered 202 ends up in Parquet
 * exactly once (read back by DuckDB).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { postEvents } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { TORN_TAILS, tearLastSegment } from '../support/journal-segments.js';
import {
  killRunningModules,
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
  type ModuleProcess,
} from '../support/module-process.js';
import { countParquetRows, readParquetEventIds } from '../support/parquet-reader.js';

describe('a torn journal tail across kill -9 and restarts of the module', function () {
  this.timeout(120000);
  let dir: string;

  afterEach(async () => {
    await killRunningModules();
    rmSync(dir, { recursive: true, force: true });
  });

  async function kill(module: ModuleProcess): Promise<void> {
    expect(await stopModule(module, 'SIGKILL')).to.equal('SIGKILL');
  }

  /** Posts `count` events, which must all be answered 202; returns their eventIds. */
  async function postAccepted(module: ModuleProcess, count: number): Promise<string[]> {
    const load = await postEvents(module.baseUrl, count);
    expect(Object.fromEntries(load.statuses)).to.deep.equal({ 202: count });
    return load.accepted;
  }

  it('cuts the torn tail, keeps every event answered 202 before and after it, and writes each once to Parquet', async () => {
    dir = tempDir('journal-torn-tail');
    const journalDirectory = path.join(dir, 'journal');
    const exportDirectory = path.join(dir, 'parquet');
    const parquetGlob = path.join(exportDirectory, '*.parquet');
    const config = (writeFrequency: number) => ({
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 20000,
      journal: { directory: journalDirectory },
      destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency } },
    });
    const writingOften = writeConfigFile(dir, config(100), 'writing-often.yaml');
    // Writes no file before the kill: what is accepted then is held by the journal alone.
    const writingNever = writeConfigFile(dir, config(600000), 'writing-never.yaml');
    const accepted: string[] = [];

    // 1. Events accepted and written to Parquet, then a crash in the middle of the next write.
    let module = await startModule(writingOften);
    accepted.push(...(await postAccepted(module, 40)));
    await eventually(
      async () => ((await countParquetRows(parquetGlob)) === 40 ? true : undefined),
      60000,
      'Parquet to write the first 40 events',
    );
    await kill(module);
    const torn = await tearLastSegment(journalDirectory, TORN_TAILS[1]);

    // 2. The restart cuts the tail; events accepted now live in the journal only, in the torn segment.
    module = await startModule(writingNever);
    const recoveryLine = await module.waitForOutput('segment(s),');
    accepted.push(...(await postAccepted(module, 30)));
    await kill(module);

    // 3. The next restart must find them all, and no damage.
    module = await startModule(writingOften);
    const restartLine = await module.waitForOutput('segment(s),');
    expect(await stopModule(module)).to.equal(0); // SIGTERM: writes what the journal holds

    const written = await readParquetEventIds(parquetGlob);
    const lost = accepted.filter((eventId) => !written.includes(eventId));
    expect(lost, 'events answered 202 missing from Parquet').to.deep.equal([]);
    expect(written, 'each event once').to.have.length(new Set(written).size);
    expect(new Set(written)).to.deep.equal(new Set(accepted));
    expect(recoveryLine).to.include(
      `cut ${torn.tornBytes} byte(s) of torn or damaged tail from ${torn.file} at byte ${torn.goodBytes}`,
    );
    expect(restartLine).to.include('no damaged tail');
  });
});
