/**
 * The Parquet destination against the real file system, read back by DuckDB (and hyparquet):
 * what another tool sees in the files is what counts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import sinon from 'sinon';
import type { BatchItem } from '../../src/lib/audit-destinations/sink.js';
import {
  ParquetPartFileSink,
  createParquetDestination,
} from '../../src/lib/audit-destinations/parquet/writer.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import type { ParquetConfig } from '../../src/lib/config/schema.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { makeAuditRecord } from '../support/audit-records.js';
import { deliverRecords } from '../support/deliver.js';
import {
  countParquetRowGroups,
  countParquetRows,
  describeParquetColumns,
  readParquetCodecs,
  readParquetKeyValueMetadata,
  readParquetRows,
  readParquetRowsWithHyparquet,
} from '../support/parquet-reader.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The columns of docs/parquet.md, in order, with the types DuckDB must see. */
const EXPECTED_COLUMNS = [
  ['timestamp', 'BIGINT'],
  ['date', 'VARCHAR'],
  ['eventId', 'VARCHAR'],
  ['correlationId', 'VARCHAR'],
  ['eventType', 'VARCHAR'],
  ['user', 'VARCHAR'],
  ['userDirectory', 'VARCHAR'],
  ['userId', 'VARCHAR'],
  ['appId', 'VARCHAR'],
  ['appName', 'VARCHAR'],
  ['sheetId', 'VARCHAR'],
  ['sheetName', 'VARCHAR'],
  ['objectId', 'VARCHAR'],
  ['objectType', 'VARCHAR'],
  ['selectionTxnId', 'VARCHAR'],
  ['durationMs', 'BIGINT'],
  ['visible', 'BOOLEAN'],
  ['enteredAt', 'VARCHAR'],
  ['leftAt', 'VARCHAR'],
  ['enterSelectionTxnId', 'VARCHAR'],
  ['leaveSelectionTxnId', 'VARCHAR'],
  ['dataStateId', 'BIGINT'],
  ['selectionDetails', 'VARCHAR'],
  ['screenshotUrl', 'VARCHAR'],
  ['screenshotSavedPaths', 'VARCHAR'],
  ['objectData', 'VARCHAR'],
  ['tags', 'VARCHAR'],
  ['envelope', 'VARCHAR'],
].map(([name, type]) => ({ name, type }));

const TRICKY_TEXT = 'Åsa Öberg 日本 🎉, "quoted"\nsecond line\\back\\slash';

/** A record whose every nullable field is null. */
function makeSparseRecord(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return makeAuditRecord({
    correlationId: null,
    user: null,
    userDirectory: null,
    userId: null,
    appId: null,
    appName: null,
    sheetId: null,
    sheetName: null,
    objectId: null,
    objectType: null,
    selectionTxnId: null,
    durationMs: null,
    visible: null,
    enteredAt: null,
    leftAt: null,
    enterSelectionTxnId: null,
    leaveSelectionTxnId: null,
    dataStateId: null,
    selectionDetails: null,
    screenshotUrl: null,
    screenshotSavedPaths: null,
    objectData: null,
    ...overrides,
  });
}

describe('Parquet destination (file system + DuckDB)', function () {
  this.timeout(20000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'parquet-writer-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function config(overrides: Partial<ParquetConfig> = {}): ParquetConfig {
    return {
      exportDirectory: dir,
      maxBatchSize: 1000,
      writeFrequency: 60000,
      staticTags: [],
      compression: 'snappy',
      includeEnvelope: true,
      ...overrides,
    };
  }

  function createDestination(overrides: Partial<ParquetConfig> = {}) {
    return createParquetDestination(config(overrides), { logger: createSilentLogger() });
  }

  /** Writes the records as one batch and closes the destination. */
  async function writeOnce(records: AuditRecord[], overrides: Partial<ParquetConfig> = {}): Promise<void> {
    const destination = await createDestination(overrides);
    await deliverRecords(destination, records);
    await destination.close();
  }

  function parquetFiles(): string[] {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.parquet'))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  function hiddenFiles(): string[] {
    return readdirSync(dir).filter((name) => name.startsWith('.'));
  }

  const file = (name: string) => path.join(dir, name);
  const allFiles = () => path.join(dir, '*.parquet');

  async function fingerprint(name: string) {
    const stats = await stat(file(name));
    const sha256 = createHash('sha256')
      .update(await readFile(file(name)))
      .digest('hex');
    return { mtimeMs: stats.mtimeMs, size: stats.size, sha256 };
  }

  describe('layout', () => {
    it('has the 28 columns of docs/parquet.md, in order, with their types', async () => {
      await writeOnce([makeAuditRecord()]);
      expect(await describeParquetColumns(file('20261014_part1.parquet'))).to.deep.equal(EXPECTED_COLUMNS);
    });

    it('keeps the types when every value of a column is null', async () => {
      await writeOnce([makeSparseRecord(), makeSparseRecord()]);
      expect(await describeParquetColumns(file('20261014_part1.parquet'))).to.deep.equal(EXPECTED_COLUMNS);
    });

    it('stores every value exactly, including unicode, newlines, commas, quotes and backslashes', async () => {
      const record = makeAuditRecord({
        timestampMs: Date.parse('2026-10-14T08:15:42.512Z'),
        user: `UserDirectory=CORP; UserId=${TRICKY_TEXT}`,
        userDirectory: 'CORP',
        userId: TRICKY_TEXT,
        appName: TRICKY_TEXT,
        sheetName: 'Sheet, with "quotes"\r\nand CRLF',
        objectType: 'kpi',
        durationMs: 30608,
        visible: true,
        dataStateId: 9007199254740991,
        selectionDetails: JSON.stringify([{ qField: 'Region', qSelectedCount: 2, qSelected: 'Nord, Süd' }]),
        screenshotUrl: 'https://sense.example.com/screenshots/a b.png?x=1&y="2"',
        screenshotSavedPaths: JSON.stringify(['C:\\audit\\shots\\één.png', '/var/audit/日本.png']),
        objectData: JSON.stringify({ objectType: 'kpi', title: TRICKY_TEXT }),
        envelope: JSON.stringify({
          payload: { context: { appName: TRICKY_TEXT, userAgent: 'Mozilla/5.0 (X11)' } },
        }),
      });
      await writeOnce([record]);

      const [row] = await readParquetRows(file('20261014_part1.parquet'));
      expect(row).to.deep.equal({
        timestamp: BigInt(record.timestampMs),
        date: '20261014',
        eventId: record.eventId,
        correlationId: record.correlationId,
        eventType: 'object.view.duration',
        user: record.user,
        userDirectory: 'CORP',
        userId: TRICKY_TEXT,
        appId: record.appId,
        appName: TRICKY_TEXT,
        sheetId: record.sheetId,
        sheetName: 'Sheet, with "quotes"\r\nand CRLF',
        objectId: record.objectId,
        objectType: 'kpi',
        selectionTxnId: record.selectionTxnId,
        durationMs: 30608n,
        visible: true,
        enteredAt: record.enteredAt,
        leftAt: record.leftAt,
        enterSelectionTxnId: record.enterSelectionTxnId,
        leaveSelectionTxnId: record.leaveSelectionTxnId,
        dataStateId: 9007199254740991n,
        selectionDetails: record.selectionDetails,
        screenshotUrl: record.screenshotUrl,
        screenshotSavedPaths: '["C:\\\\audit\\\\shots\\\\één.png","/var/audit/日本.png"]',
        objectData: record.objectData,
        tags: null,
        envelope: record.envelope,
        filename: '20261014_part1.parquet',
      });
    });

    it('stores nulls as nulls', async () => {
      const record = makeSparseRecord();
      await writeOnce([record]);
      const [row] = await readParquetRows(allFiles());
      const nullColumns = EXPECTED_COLUMNS.map((column) => column.name).filter(
        (name) => !['timestamp', 'date', 'eventId', 'eventType'].includes(name),
      );
      for (const name of nullColumns) expect(row[name], name).to.equal(null);
      expect(row).to.include({ eventId: record.eventId, date: '20261014', eventType: record.eventType });
    });

    it('rounds durations to the nearest ms and never drops them', async () => {
      const records = [4210.5, 0.4, 0, 2 ** 53 - 1, null].map((durationMs, index) =>
        makeAuditRecord({ durationMs, timestampMs: Date.parse('2026-10-14T10:00:00Z') + index }),
      );
      await writeOnce(records);
      const rows = await readParquetRows(allFiles());
      expect(rows.map((row) => row.durationMs)).to.deep.equal([4211n, 0n, 0n, 9007199254740991n, null]);
    });

    it('reads back in hyparquet too, with the same values', async () => {
      const record = makeAuditRecord({ appName: TRICKY_TEXT, durationMs: 4210.5 });
      await writeOnce([record]);
      const [row] = await readParquetRowsWithHyparquet(file('20261014_part1.parquet'));
      expect(row).to.include({
        timestamp: BigInt(record.timestampMs),
        eventId: record.eventId,
        appName: TRICKY_TEXT,
        durationMs: 4211n,
        visible: false,
        tags: null,
      });
      expect(Object.keys(row)).to.deep.equal(EXPECTED_COLUMNS.map((column) => column.name));
    });
  });

  describe('files', () => {
    it('stores two records of the same millisecond as two rows', async () => {
      const timestampMs = Date.parse('2026-10-14T12:00:00.000Z');
      const records = [makeAuditRecord({ timestampMs }), makeAuditRecord({ timestampMs })];
      await writeOnce(records);
      const rows = await readParquetRows(allFiles());
      expect(rows.map((row) => row.eventId)).to.have.members(records.map((record) => record.eventId));
      expect(rows.map((row) => row.timestamp)).to.deep.equal([BigInt(timestampMs), BigInt(timestampMs)]);
    });

    it('writes one file per UTC date in a flush across midnight', async () => {
      const beforeMidnight = makeAuditRecord({ timestampMs: Date.parse('2026-10-14T23:59:59.999Z') });
      const afterMidnight = makeAuditRecord({ timestampMs: Date.parse('2026-10-15T00:00:00.000Z') });
      await writeOnce([beforeMidnight, afterMidnight]);

      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet', '20261015_part1.parquet']);
      const firstDay = await readParquetRows(file('20261014_part1.parquet'));
      const secondDay = await readParquetRows(file('20261015_part1.parquet'));
      expect(firstDay.map((row) => [row.eventId, row.date, row.timestamp])).to.deep.equal([
        [beforeMidnight.eventId, '20261014', BigInt(beforeMidnight.timestampMs)],
      ]);
      expect(secondDay.map((row) => [row.eventId, row.date, row.timestamp])).to.deep.equal([
        [afterMidnight.eventId, '20261015', BigInt(afterMidnight.timestampMs)],
      ]);
    });

    it('writes the next part number on every flush', async () => {
      const destination = await createDestination();
      const first = makeAuditRecord();
      const second = makeAuditRecord();
      await deliverRecords(destination, [first]);
      await deliverRecords(destination, [second]);
      await destination.close();

      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet', '20261014_part2.parquet']);
      const rows = await readParquetRows(allFiles());
      expect(rows.map((row) => [row.filename, row.eventId])).to.deep.equal([
        ['20261014_part1.parquet', first.eventId],
        ['20261014_part2.parquet', second.eventId],
      ]);
    });

    it('writes one file per flush, not per row', async () => {
      await writeOnce(Array.from({ length: 25 }, () => makeAuditRecord()));
      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet']);
      expect(await countParquetRows(allFiles())).to.equal(25);
    });

    it('continues after the highest part on disk after a restart, without touching older files', async () => {
      await writeOnce([makeAuditRecord()]);
      await writeOnce([makeAuditRecord()]);
      const before = {
        part1: await fingerprint('20261014_part1.parquet'),
        part2: await fingerprint('20261014_part2.parquet'),
      };

      const afterRestart = makeAuditRecord();
      await writeOnce([afterRestart]);

      expect(parquetFiles()).to.deep.equal([
        '20261014_part1.parquet',
        '20261014_part2.parquet',
        '20261014_part3.parquet',
      ]);
      expect(await fingerprint('20261014_part1.parquet')).to.deep.equal(before.part1);
      expect(await fingerprint('20261014_part2.parquet')).to.deep.equal(before.part2);
      const part3 = await readParquetRows(file('20261014_part3.parquet'));
      expect(part3.map((row) => row.eventId)).to.deep.equal([afterRestart.eventId]);
    });

    it('never overwrites a file when two destinations write into one directory at once', async () => {
      const destinations = [await createDestination(), await createDestination()];
      const written: string[] = [];
      const flushes = 10;
      const rowsPerFlush = 3;

      // Both sinks start from part 1, so they contend for the same names on every flush.
      await Promise.all(
        destinations.map(async (destination) => {
          for (let flush = 0; flush < flushes; flush++) {
            const records = Array.from({ length: rowsPerFlush }, () => makeAuditRecord());
            written.push(...records.map((record) => record.eventId));
            await deliverRecords(destination, records);
          }
        }),
      );
      await Promise.all(destinations.map((destination) => destination.close()));

      const fileCount = destinations.length * flushes;
      expect(parquetFiles()).to.deep.equal(
        Array.from({ length: fileCount }, (_, index) => `20261014_part${index + 1}.parquet`),
      );
      const rows = await readParquetRows(allFiles());
      expect(rows).to.have.length(written.length);
      expect(rows.map((row) => row.eventId)).to.have.members(written);
      for (const name of parquetFiles())
        expect(await countParquetRows(file(name)), name).to.equal(rowsPerFlush);
      expect(hiddenFiles()).to.deep.equal([]);
    });

    it('never overwrites a file when two processes write into one directory at once', async () => {
      const flushes = 6;
      const rowsPerFlush = 2;
      const script = await writeChildWriterScript(dir);
      const children = ['alpha', 'beta'].map((label) =>
        startChildWriter(script, dir, label, flushes, rowsPerFlush),
      );
      // Let both load first, then start them together, so that their writes overlap.
      await Promise.all(children.map((child) => child.ready));
      for (const child of children) child.go();
      await Promise.all(children.map((child) => child.exited));

      const rows = await readParquetRows(allFiles());
      const expectedIds = ['alpha', 'beta'].flatMap((label) =>
        Array.from({ length: flushes * rowsPerFlush }, (_, index) => `${label}-${index}`),
      );
      expect(rows.map((row) => row.eventId)).to.have.members(expectedIds);
      expect(parquetFiles()).to.have.length(2 * flushes);
      expect(hiddenFiles()).to.deep.equal([]);
    });

    it('resolves a relative exportDirectory against baseDir', async () => {
      const destination = await createParquetDestination(
        config({ exportDirectory: 'audit-events/parquet' }),
        {
          logger: createSilentLogger(),
          baseDir: dir,
        },
      );
      await deliverRecords(destination, [makeAuditRecord()]);
      await destination.close();
      expect(readdirSync(path.join(dir, 'audit-events', 'parquet'))).to.deep.equal([
        '20261014_part1.parquet',
      ]);
    });
  });

  describe('temporary files', () => {
    it('removes a leftover temp file of a dead process at start and keeps a live one', async () => {
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
      const dead = `.20261014_part1.parquet.${deadPid}.0a1b2c3d4e5f.tmp`;
      const live = `.20261014_part2.parquet.${process.pid}.0a1b2c3d4e5f.tmp`;
      const unrelated = '.notes.tmp';
      for (const name of [dead, live, unrelated]) await writeFile(file(name), 'partial');

      const destination = await createDestination();
      expect(hiddenFiles().sort()).to.deep.equal([live, unrelated].sort());

      await deliverRecords(destination, [makeAuditRecord()]);
      await destination.close();
      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet']);
      expect(await readFile(file(live), 'utf8')).to.equal('partial');
    });

    it('creates the export directory when it does not exist', async () => {
      const nested = path.join(dir, 'a', 'b');
      const destination = await createDestination({ exportDirectory: nested });
      await deliverRecords(destination, [makeAuditRecord()]);
      await destination.close();
      expect(readdirSync(nested)).to.deep.equal(['20261014_part1.parquet']);
    });
  });

  describe('metadata, tags and compression', () => {
    it('records the layout version and the seq range of its rows in key-value metadata', async () => {
      const destination = await createDestination();
      await deliverRecords(destination, [makeAuditRecord(), makeAuditRecord(), makeAuditRecord()], {
        seqs: [7, 8, 9],
      });
      await destination.close();

      expect(await readParquetKeyValueMetadata(file('20261014_part1.parquet'))).to.deep.equal({
        'butler-sos.audit.layoutVersion': '2',
        'butler-sos.audit.seqRange': '7-9',
      });
    });

    it('gives each date file the seq range of its own rows', async () => {
      const destination = await createDestination();
      const records = ['2026-10-14T23:59:59.999Z', '2026-10-15T00:00:00.000Z'].map((time) =>
        makeAuditRecord({ timestampMs: Date.parse(time) }),
      );
      await deliverRecords(destination, records, { seqs: [11, 12] });
      await destination.close();

      const metadata = async (name: string) =>
        (await readParquetKeyValueMetadata(file(name)))['butler-sos.audit.seqRange'];
      expect(await metadata('20261014_part1.parquet')).to.equal('11-11');
      expect(await metadata('20261015_part1.parquet')).to.equal('12-12');
    });

    /** One destination of event log `logId` writes `seqs` (one file per call) and closes. */
    async function writeSeqs(logId: string, seqs: number[]): Promise<void> {
      const destination = await createParquetDestination(config(), { logger: createSilentLogger(), logId });
      await deliverRecords(
        destination,
        seqs.map(() => makeAuditRecord()),
        { seqs },
      );
      await destination.close();
    }

    /** Opens the destination again as log `logId`: where it resumes, and what it warned about. */
    async function reopen(logId?: string) {
      const warnings: string[] = [];
      const logger = createSilentLogger();
      logger.warn = ((message: string) => warnings.push(message)) as typeof logger.warn;
      const destination = await createParquetDestination(config(), { logger, logId });
      await destination.close();
      return { durableThrough: destination.durableThrough, warnings };
    }

    it('names the event log its seq range belongs to, and resumes only after its own log', async () => {
      await writeSeqs('journal-a', [1, 2, 3]);
      // Another process (another journal) shares the directory and has numbered further.
      await writeSeqs('journal-b', [40, 41]);

      expect(await readParquetKeyValueMetadata(file('20261014_part1.parquet'))).to.deep.equal({
        'butler-sos.audit.layoutVersion': '2',
        'butler-sos.audit.seqRange': '1-3',
        'butler-sos.audit.logId': 'journal-a',
      });
      const reopened = async (logId?: string) => (await reopen(logId)).durableThrough;
      expect(await reopened('journal-a')).to.equal(3);
      expect(await reopened('journal-b')).to.equal(41);
      expect(await reopened('journal-c')).to.equal(0);
      expect(await reopened(undefined)).to.equal(0);
    });

    it('starts despite a part file it cannot read, and says which', async () => {
      await writeSeqs('journal-a', [5]);
      await writeFile(file('20261014_part7.parquet'), 'not parquet at all');
      const { durableThrough, warnings } = await reopen('journal-a');
      expect(durableThrough).to.equal(5);
      expect(
        warnings.some((line) => line.startsWith('20261014_part7.parquet') && line.includes('ignored')),
      ).to.equal(true);
    });

    it("reads one footer per date at start: each date's newest file of its own log", async () => {
      await writeSeqs('journal-a', [1, 2]); // part1
      await writeSeqs('journal-a', [3, 4]); // part2
      await writeSeqs('journal-a', [5, 6]); // part3: journal-a's newest file of the date
      await writeSeqs('journal-b', [90]); // part4: another process, newer still
      // An older file of journal-a damaged since: never read, so nothing is said about it.
      await writeFile(file('20261014_part1.parquet'), 'damaged');
      expect(await reopen('journal-a')).to.deep.equal({ durableThrough: 6, warnings: [] });
    });

    it('leaves out the seq range when the rows have no seq', async () => {
      await writeOnce([makeAuditRecord()]);
      expect(await readParquetKeyValueMetadata(file('20261014_part1.parquet'))).to.deep.equal({
        'butler-sos.audit.layoutVersion': '2',
      });
    });

    it('stores the static tags as a JSON object in the tags column of every row', async () => {
      const staticTags = [
        { name: 'env', value: 'prod' },
        { name: 'site', value: 'Malmö "HQ"' },
      ];
      await writeOnce([makeAuditRecord(), makeAuditRecord()], { staticTags });
      const rows = await readParquetRows(allFiles());
      expect(rows.map((row) => row.tags)).to.deep.equal([
        '{"env":"prod","site":"Malmö \\"HQ\\""}',
        '{"env":"prod","site":"Malmö \\"HQ\\""}',
      ]);
      expect(JSON.parse(rows[0].tags as string)).to.deep.equal({ env: 'prod', site: 'Malmö "HQ"' });
    });

    it('stores null tags when there are no static tags', async () => {
      await writeOnce([makeAuditRecord()]);
      const [row] = await readParquetRows(allFiles());
      expect(row.tags).to.equal(null);
    });

    for (const [compression, codec] of [
      ['gzip', 'GZIP'],
      ['none', 'UNCOMPRESSED'],
      ['snappy', 'SNAPPY'],
    ] as const) {
      it(`writes ${compression} files that read back`, async () => {
        const records = Array.from({ length: 3 }, () => makeAuditRecord({ appName: TRICKY_TEXT }));
        await writeOnce(records, { compression });
        const name = file('20261014_part1.parquet');
        expect(await readParquetCodecs(name)).to.deep.equal([codec]);
        const rows = await readParquetRows(name);
        expect(rows.map((row) => row.eventId)).to.have.members(records.map((record) => record.eventId));
        expect(rows.every((row) => row.appName === TRICKY_TEXT)).to.equal(true);
      });
    }

    it('honours rowGroupSize', async () => {
      await writeOnce(
        Array.from({ length: 5 }, () => makeAuditRecord()),
        { rowGroupSize: 2 },
      );
      expect(await countParquetRowGroups(file('20261014_part1.parquet'))).to.equal(3);
      expect(await countParquetRows(allFiles())).to.equal(5);
    });
  });

  describe('what the sink answers', () => {
    it('settles each event only once its file is published under its final name', async () => {
      const destination = await createDestination();
      const seenAtSettle: Array<{ seq: number; files: string[]; hidden: string[] }> = [];
      const settled = await deliverRecords(destination, [makeAuditRecord(), makeAuditRecord()], {
        seqs: [1, 2],
      });
      for (const seq of settled) seenAtSettle.push({ seq, files: parquetFiles(), hidden: hiddenFiles() });
      expect(seenAtSettle).to.deep.equal([
        { seq: 1, files: ['20261014_part1.parquet'], hidden: [] },
        { seq: 2, files: ['20261014_part1.parquet'], hidden: [] },
      ]);
      await destination.close();
    });

    it('rejects a row whose date cannot name a file, and writes the rows of the other dates', async () => {
      const destination = await createDestination();
      const good = makeAuditRecord();
      const bad = makeAuditRecord({ date: '2026-10-15' }); // not YYYYMMDD: refused
      const result = await destination.sink.write([
        { value: good, seq: 1 },
        { value: bad, seq: 2 },
      ]);
      expect(result.kept).to.deep.equal([]);
      expect(result.rejected.map((rejection) => [rejection.item.seq, rejection.reason])).to.deep.equal([
        [2, "not a YYYYMMDD date: '2026-10-15'"],
      ]);
      const rows = await readParquetRows(allFiles());
      expect(rows.map((row) => row.eventId)).to.deep.equal([good.eventId]);
      await destination.close();
    });
  });

  describe('ParquetPartFileSink', () => {
    const sink = () =>
      new ParquetPartFileSink({
        directory: dir,
        encoding: { codec: 'SNAPPY' },
        tagsJson: null,
        logger: createSilentLogger(),
      });

    it('never lets a date reach a path: a traversal attempt is rejected, the other rows are written', async () => {
      const good: BatchItem<AuditRecord> = { value: makeAuditRecord(), seq: 1 };
      const bad: BatchItem<AuditRecord> = { value: makeAuditRecord({ date: '../../etc' }), seq: 2 };
      const result = await sink().write([good, bad]);
      expect(result.rejected.map((rejection) => rejection.item)).to.deep.equal([bad]);
      expect(result.kept).to.deep.equal([]);
      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet']);
      expect(existsSync(path.join(dir, '..', '..', 'etc_part1.parquet'))).to.equal(false);
    });

    it('keeps the rows from the failed file on when a later date of a batch cannot be written', async () => {
      const writer = sink();
      const first: BatchItem<AuditRecord> = { value: makeAuditRecord(), seq: 1 };
      const second: BatchItem<AuditRecord> = {
        value: makeAuditRecord({ timestampMs: Date.parse('2026-10-15T00:00:01Z') }),
        seq: 2,
      };
      // The second date's file fails (injected at its encoding): the first one stays published.
      const writeFile = sinon.stub(writer, 'encodeRows').callThrough();
      writeFile.onSecondCall().throws(new Error('injected: the disk went away'));
      const result = await writer.write([first, second]);
      writeFile.restore();
      expect(result.rejected).to.deep.equal([]);
      expect(result.kept).to.deep.equal([second]);
      expect(String(result.failure)).to.include('injected');
      expect(parquetFiles()).to.deep.equal(['20261014_part1.parquet']);
      expect(hiddenFiles()).to.deep.equal([]);
    });

    it('skips a part number that appeared on disk after it looked', async () => {
      const writer = sink();
      await writer.write([{ value: makeAuditRecord() }]);
      await writeFile(file('20261014_part2.parquet'), 'written by someone else');
      await writer.write([{ value: makeAuditRecord() }]);

      expect(parquetFiles()).to.deep.equal([
        '20261014_part1.parquet',
        '20261014_part2.parquet',
        '20261014_part3.parquet',
      ]);
      expect(await readFile(file('20261014_part2.parquet'), 'utf8')).to.equal('written by someone else');
    });
  });
});

interface ChildWriter {
  ready: Promise<void>;
  go(): void;
  exited: Promise<void>;
}

/** A small writer process: creates a destination, waits for "go" on stdin, writes, exits. */
async function writeChildWriterScript(dir: string): Promise<string> {
  const moduleUrl = (relative: string) => JSON.stringify(pathToFileURL(path.join(REPO_ROOT, relative)).href);
  const script = `
    const { createParquetDestination } = await import(${moduleUrl('src/lib/audit-destinations/parquet/writer.ts')});
    const { createSilentLogger } = await import(${moduleUrl('src/lib/logger.ts')});
    const { makeAuditRecord } = await import(${moduleUrl('test/support/audit-records.ts')});
    const [directory, label, flushes, rowsPerFlush] = process.argv.slice(2);
    const destination = await createParquetDestination(
      { exportDirectory: directory, maxBatchSize: 1000, writeFrequency: 60000, staticTags: [], compression: 'snappy' },
      { logger: createSilentLogger() },
    );
    process.stdout.write('ready\\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    let index = 0;
    for (let flush = 0; flush < Number(flushes); flush++) {
      const batch = [];
      for (let row = 0; row < Number(rowsPerFlush); row++) {
        batch.push({ value: makeAuditRecord({ eventId: label + '-' + index++, appName: label }) });
      }
      const result = await destination.sink.write(batch);
      if (result.kept.length > 0 || result.rejected.length > 0) throw new Error('not all written');
    }
    await destination.close();
    process.exit(0);
  `;
  const scriptPath = path.join(dir, 'child-writer.mjs'); // removed with the directory
  await writeFile(scriptPath, script);
  return scriptPath;
}

function startChildWriter(
  script: string,
  dir: string,
  label: string,
  flushes: number,
  rowsPerFlush: number,
): ChildWriter {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, dir, label, String(flushes), String(rowsPerFlush)],
    {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`child writer ${label} exited with ${code}: ${stderr}`));
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    exited.catch(reject);
  });
  return { ready, exited, go: () => child.stdin.write('go\n') };
}
