/**
 * Exactly-once Parquet across a restart, made deterministic: instead of hoping a kill lands
 * between publishing a part file and saving the journal checkpoint, the test leaves the
 * journal exactly as such a crash would (checkpoints.json behind the published files, or gone)
 * and restarts the module as a process. The files' own sequence ranges must keep every row
 * from being written a second time.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { postAuditEventStatus } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { checkpointsFile, readSavedCheckpoints, writeSavedCheckpoints } from '../support/journal-files.js';
import {
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
  type ModuleProcess,
} from '../support/module-process.js';
import {
  countParquetRows,
  readParquetEventIds,
  readParquetKeyValueMetadata,
} from '../support/parquet-reader.js';

const PART_FILE = /^\d{8}_part\d+\.parquet$/;

describe('Parquet exactly once across a restart with a stale journal checkpoint', function () {
  this.timeout(120000);
  let running: ModuleProcess[] = [];

  afterEach(async () => {
    // A test that failed half-way leaves its module running: nothing to save, so no grace.
    await Promise.all(
      running
        .filter((module) => module.child.exitCode === null)
        .map((module) => stopModule(module, 'SIGKILL')),
    );
    running = [];
  });

  function setUp(prefix: string) {
    const dir = tempDir(prefix);
    const journalDirectory = path.join(dir, 'journal');
    const exportDirectory = path.join(dir, 'parquet');
    const configFile = writeConfigFile(dir, {
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 20000,
      journal: { directory: journalDirectory },
      destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency: 200 } },
    });
    return { journalDirectory, exportDirectory, glob: path.join(exportDirectory, '*.parquet'), configFile };
  }

  async function start(configFile: string): Promise<ModuleProcess> {
    const module = await startModule(configFile);
    running.push(module);
    return module;
  }

  async function postAll(module: ModuleProcess, envelopes: AuditEnvelope[]): Promise<void> {
    for (const envelope of envelopes)
      expect(await postAuditEventStatus(module.baseUrl, envelope)).to.equal(202);
  }

  async function rowsReach(glob: string, rows: number): Promise<void> {
    await eventually(
      async () => ((await countParquetRows(glob).catch(() => 0)) >= rows ? true : undefined),
      60000,
      `${rows} rows in the part files`,
    );
  }

  /** Posts two rounds, each written to its own part file(s) before the next, then stops cleanly. */
  async function firstRun(configFile: string, glob: string): Promise<AuditEnvelope[]> {
    const module = await start(configFile);
    const first = Array.from({ length: 10 }, () => freshEnvelope('object.view.duration'));
    const second = Array.from({ length: 10 }, () => freshEnvelope('selection.state.changed'));
    await postAll(module, first);
    await rowsReach(glob, first.length);
    await postAll(module, second);
    await rowsReach(glob, first.length + second.length);
    expect(await stopModule(module)).to.equal(0);
    return [...first, ...second];
  }

  /** Restarts on the journal as it is, posts `later`, stops cleanly. */
  async function secondRun(configFile: string, later: AuditEnvelope[]): Promise<void> {
    const module = await start(configFile);
    await postAll(module, later);
    expect(await stopModule(module)).to.equal(0);
  }

  async function expectEachEventOnce(glob: string, posted: AuditEnvelope[]): Promise<void> {
    const eventIds = await readParquetEventIds(glob);
    expect(eventIds.length, 'rows in the part files').to.equal(posted.length);
    expect(new Set(eventIds).size, 'distinct eventIds').to.equal(posted.length);
    expect([...eventIds].sort()).to.deep.equal(posted.map((envelope) => envelope.eventId).sort());
  }

  it('skips the rows of a part file published after the saved checkpoint', async () => {
    const { journalDirectory, exportDirectory, glob, configFile } = setUp('exactly-once-stale');
    const before = await firstRun(configFile, glob);
    expect(readSavedCheckpoints(journalDirectory)).to.deep.equal({ parquet: before.length });

    // The newest file's rows are past a checkpoint saved just before it was published.
    const ranges = await Promise.all(
      readdirSync(exportDirectory)
        .filter((name) => PART_FILE.test(name))
        .map(async (name) => {
          const metadata = await readParquetKeyValueMetadata(path.join(exportDirectory, name));
          const [first, last] = metadata['butler-sos.audit.seqRange'].split('-').map(Number);
          return { first, last };
        }),
    );
    const newest = ranges.reduce((a, b) => (b.last > a.last ? b : a));
    expect(ranges.length, 'part files of the first run').to.be.at.least(2);
    expect(newest.last).to.equal(before.length);
    writeSavedCheckpoints(journalDirectory, { parquet: newest.first - 1 });

    const later = Array.from({ length: 5 }, () => freshEnvelope('navigation.sheet.loaded'));
    await secondRun(configFile, later);

    await expectEachEventOnce(glob, [...before, ...later]);
    expect(readSavedCheckpoints(journalDirectory)).to.deep.equal({ parquet: before.length + later.length });
  });

  it('skips every row already in the part files when checkpoints.json is missing', async () => {
    const { journalDirectory, glob, configFile } = setUp('exactly-once-no-checkpoint');
    const before = await firstRun(configFile, glob);
    rmSync(checkpointsFile(journalDirectory)); // the journal still holds every event: all would replay

    const later = Array.from({ length: 5 }, () => freshEnvelope('navigation.sheet.loaded'));
    await secondRun(configFile, later);

    await expectEachEventOnce(glob, [...before, ...later]);
    expect(readSavedCheckpoints(journalDirectory)).to.deep.equal({ parquet: before.length + later.length });
  });
});
