/**
 * The durable journal against the real file system: the EventLog contract of the in-memory
 * log, then what only a journal promises (docs/journal.md): replay after a restart or a crash, torn and
 * damaged tails cut and reported, group commit, maxBytes, segment deletion, catching up from
 * disk, and a real process killed with SIGKILL in the middle of appending.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import sinon from 'sinon';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import type { Cursor, LogEntry } from '../../src/lib/audit-journal/event-log.js';
import { openJournal, type Journal, type JournalOptions } from '../../src/lib/audit-journal/journal.js';
import {
  HEADER_BYTES,
  decodeRecordAt,
  encodePayload,
  encodeRecord,
} from '../../src/lib/audit-journal/record-format.js';
import { ServiceUnavailableError } from '../../src/lib/errors.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { recordingLogger } from '../support/recording-logger.js';
import { fileHandlePrototype } from '../support/datasync-gate.js';
import { describeEventLogContract } from '../support/event-log-contract.js';
import { freshEnvelope } from '../support/fixtures.js';
import { segmentFiles } from '../support/journal-segments.js';
import { range, readExactly, seqsOf } from '../support/log-entries.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const APPEND_LOOP = path.join(REPO_ROOT, 'test', 'support', 'journal-append-loop.ts');
const MiB = 1024 * 1024;

const envelope = () => freshEnvelope('navigation.sheet.loaded');
/** Bytes one test envelope takes on disk (every fresh envelope has the same size). */
const RECORD_BYTES = encodeRecord(1, encodePayload(envelope())).length;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

let directories: string[] = [];
let journals: Journal[] = [];

afterEach(async () => {
  await Promise.all(journals.map((journal) => journal.close()));
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
  journals = [];
  directories = [];
});

async function tempDirectory(): Promise<string> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'journal-test-'));
  directories.push(directory);
  return directory;
}

async function openIn(directory: string, options: Partial<JournalOptions> = {}): Promise<Journal> {
  const journal = await openJournal({
    directory,
    maxBytes: 64 * MiB,
    fsync: 'batch',
    destinationIds: ['parquet', 'influxdb'],
    logger: createSilentLogger(),
    checkpointIntervalMs: 5,
    ...options,
  });
  journals.push(journal);
  return journal;
}

/** Appends `count` envelopes one after the other (one commit each), returning them in seq order. */
async function appendInTurn(journal: Journal, count: number): Promise<AuditEnvelope[]> {
  const sent: AuditEnvelope[] = [];
  for (let i = 0; i < count; i += 1) {
    const item = envelope();
    await journal.append(item);
    sent.push(item);
  }
  return sent;
}

function ackAll(cursor: Cursor, entries: LogEntry[]): void {
  for (const entry of entries) cursor.ack(entry.seq);
}

/** Byte offsets where each record of a segment file starts, plus the file's end. */
function recordBoundaries(bytes: Buffer): number[] {
  const boundaries = [0];
  for (let offset = 0; offset < bytes.length;) {
    const result = decodeRecordAt(bytes, offset);
    if (result.kind !== 'record') throw new Error(`segment not clean at ${offset}`);
    offset += result.record.size;
    boundaries.push(offset);
  }
  return boundaries;
}

/** Counts real fdatasync calls made through any FileHandle (the file system itself is untouched). */
async function spyOnDatasync(): Promise<sinon.SinonSpy> {
  return sinon.spy(await fileHandlePrototype(), 'datasync');
}

/** Counts the bytes read through any FileHandle (the reads themselves are untouched). */
async function spyOnRead(): Promise<{ bytesRead(): Promise<number>; restore(): void }> {
  const spy = sinon.spy(await fileHandlePrototype(), 'read');
  return {
    bytesRead: async () =>
      (await Promise.all(spy.returnValues)).reduce((sum, result) => sum + result.bytesRead, 0),
    restore: () => spy.restore(),
  };
}

/** A journal with `count` entries in one segment, closed: returns the directory and the segment's bytes. */
async function closedJournalWith(
  count: number,
): Promise<{ directory: string; file: string; sent: AuditEnvelope[] }> {
  const directory = await tempDirectory();
  const journal = await openIn(directory);
  const sent = await appendInTurn(journal, count);
  await journal.close();
  const [name] = await segmentFiles(directory);
  return { directory, file: path.join(directory, name), sent };
}

// ---------------------------------------------------------------------------------------
// The EventLog contract (the cases of memory-log.test.ts)
// ---------------------------------------------------------------------------------------

describeEventLogContract('Journal', async () => openIn(await tempDirectory()));

describe('Journal: the EventLog contract, journal specifics', () => {
  it('answers a full journal with ServiceUnavailableError and frees room only when every destination acked', async () => {
    const directory = await tempDirectory();
    // Room for 8 records: segments of 2 records (maxBytes / 4).
    const journal = await openIn(directory, { maxBytes: 8 * RECORD_BYTES });
    const parquet = journal.openCursor('parquet');
    const influx = journal.openCursor('influxdb');
    const accepted = await appendInTurn(journal, 8);

    const refused = await journal.append(envelope()).catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(ServiceUnavailableError);
    expect((refused as ServiceUnavailableError).retryAfterSeconds).to.be.greaterThan(0);
    expect((refused as Error).message)
      .to.include('journal is full')
      .and.include(`${8 * RECORD_BYTES} bytes`);

    // Nothing accepted is dropped while full.
    const fromParquet = await readExactly(parquet, 8);
    expect(fromParquet.map((entry) => entry.envelope)).to.deep.equal(accepted);
    const fromInflux = await readExactly(influx, 8);
    ackAll(parquet, fromParquet);
    await journal.flushCheckpoints();
    expect(await journal.append(envelope()).catch((error: unknown) => error)).to.be.instanceOf(
      ServiceUnavailableError,
    );

    ackAll(influx, fromInflux.slice(0, 4));
    await journal.flushCheckpoints();
    expect(journal.backlog()).to.deep.include({ entries: 4, lastSeq: 8, capacity: 8 * RECORD_BYTES });
    expect(await journal.append(envelope())).to.equal(9);
  });

  it('never lets a burst make one segment of the whole journal, and accepts again once every destination acked it', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { maxBytes: 8 * RECORD_BYTES });
    const parquet = journal.openCursor('parquet');
    const influx = journal.openCursor('influxdb');
    // All in one group window: without a byte limit they were one commit into one segment.
    const answers = await Promise.allSettled(Array.from({ length: 12 }, () => journal.append(envelope())));
    const accepted = answers.filter((answer) => answer.status === 'fulfilled');
    expect(accepted).to.have.length(8);
    for (const name of await segmentFiles(directory)) {
      expect((await stat(path.join(directory, name))).size, name).to.be.at.most(2 * RECORD_BYTES);
    }

    ackAll(parquet, await readExactly(parquet, 8));
    ackAll(influx, await readExactly(influx, 8));
    await journal.flushCheckpoints();
    expect(await journal.append(envelope())).to.equal(9);
  });

  it('accepts again once every destination acked, even when one record fills the journal', async () => {
    const directory = await tempDirectory();
    // The segment being written is never released by checkpoints: it must not keep the journal full.
    const journal = await openIn(directory, { maxBytes: RECORD_BYTES, destinationIds: ['parquet'] });
    const cursor = journal.openCursor('parquet');
    expect(await journal.append(envelope())).to.equal(1);
    expect(await journal.append(envelope()).catch((error: unknown) => error)).to.be.instanceOf(
      ServiceUnavailableError,
    );
    ackAll(cursor, await readExactly(cursor, 1));
    await journal.flushCheckpoints();
    expect(await journal.append(envelope())).to.equal(2);
    expect(await segmentFiles(directory)).to.deep.equal(['0000000000000002.seg']);
    expect(seqsOf(await cursor.next(10))).to.deep.equal([2]);

    await journal.close();
    const reopened = await openIn(directory, { maxBytes: RECORD_BYTES, destinationIds: ['parquet'] });
    expect(reopened.lastSeq).to.equal(2);
  });

  it('reads the right entries after many have been released and evicted from memory', async () => {
    const journal = await openIn(await tempDirectory(), {
      destinationIds: ['parquet'],
      tailEntries: 1000,
      segmentBytes: 200 * RECORD_BYTES,
    });
    const cursor = journal.openCursor('parquet');
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(Array.from({ length: 1500 }, () => journal.append(envelope())));
      const entries = await readExactly(cursor, 1500, 1500);
      expect(seqsOf(entries)).to.deep.equal(range(round * 1500 + 1, (round + 1) * 1500));
      ackAll(cursor, entries);
    }
    await journal.flushCheckpoints();
    expect(journal.backlog().entries).to.equal(0);
    expect(journal.stats().segments).to.equal(1);
  });

  it('keeps its id across restarts; another directory, or a damaged id file, gives another', async () => {
    const directory = await tempDirectory();
    const first = await openIn(directory);
    await first.close();
    const reopened = await openIn(directory);
    expect(reopened.id)
      .to.equal(first.id)
      .and.match(/^[0-9a-f-]{36}$/);
    expect((await openIn(await tempDirectory())).id).to.not.equal(first.id);

    await reopened.close();
    await writeFile(path.join(directory, 'journal-id'), 'garbage');
    const { logger, lines } = recordingLogger('info');
    const renamed = await openIn(directory, { logger });
    expect(renamed.id).to.match(/^[0-9a-f-]{36}$/);
    expect(renamed.id).to.not.equal(first.id);
    expect(lines.some((line) => line.startsWith('error: ') && line.includes('journal id file'))).to.equal(
      true,
    );
  });

  it('refuses a cursor for a destination it was not opened with, and a second one for the same destination', async () => {
    const journal = await openIn(await tempDirectory());
    expect(() => journal.openCursor('kafka')).to.throw(/no destination 'kafka'/);
    journal.openCursor('parquet');
    expect(() => journal.openCursor('parquet')).to.throw(/already open/);
  });
});

// ---------------------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------------------

describe('Journal: events replayed for some destinations only', () => {
  it('hands a replayed event to its destination only, the others pass it as written, across a restart too', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory);
    const [before, replayed, after] = [envelope(), envelope(), envelope()];
    await journal.append(before);
    await journal.appendFor(['influxdb'], replayed);
    await journal.append(after);
    const parquet = journal.openCursor('parquet');
    const influx = journal.openCursor('influxdb');
    expect((await parquet.next(10)).map((entry) => entry.envelope)).to.deep.equal([before, after]);
    expect(parquet.checkpoint).to.equal(0);
    parquet.ack(1);
    parquet.ack(3);
    expect(parquet.checkpoint).to.equal(3); // #2 was never its to write
    const forInflux = await influx.next(10);
    expect(forInflux.map((entry) => [entry.seq, entry.envelope])).to.deep.equal([
      [1, before],
      [2, replayed],
      [3, after],
    ]);
    await journal.close();

    // Read back from the segment file: the mark survives on disk.
    const reopened = await openIn(directory);
    expect(
      (await readExactly(reopened.openCursor('influxdb'), 3)).map((entry) => entry.destinations),
    ).to.deep.equal([undefined, ['influxdb'], undefined]);
    await reopened.close();
  });

  it('refuses a replay for a destination it does not have', async () => {
    const journal = await openIn(await tempDirectory());
    const refused = await journal.appendFor(['kafka'], envelope()).catch((error: unknown) => error);
    expect((refused as Error).message).to.equal(
      'the journal has no destination kafka (configured: parquet, influxdb)',
    );
    await journal.close();
  });
});

describe('Journal: durability and recovery', () => {
  it('replays exactly the unacked entries after a restart, with the same seqs, from checkpoints that survived', async () => {
    const directory = await tempDirectory();
    // Checkpoints are saved by close() alone here: the throttled save never comes first.
    const first = await openIn(directory, { segmentBytes: 4 * RECORD_BYTES, checkpointIntervalMs: 60_000 });
    const sent = await appendInTurn(first, 10);
    const parquet = first.openCursor('parquet');
    const influx = first.openCursor('influxdb');
    ackAll(parquet, (await readExactly(parquet, 10)).slice(0, 6));
    ackAll(influx, (await readExactly(influx, 10)).slice(0, 3));
    await first.close();

    const { logger, lines } = recordingLogger('info');
    const second = await openIn(directory, { logger });
    expect(second.backlog().checkpoints).to.deep.equal({ parquet: 6, influxdb: 3 });
    const replayParquet = await readExactly(second.openCursor('parquet'), 4);
    const replayInflux = await readExactly(second.openCursor('influxdb'), 7);
    expect(seqsOf(replayParquet)).to.deep.equal(range(7, 10));
    expect(replayParquet.map((entry) => entry.envelope)).to.deep.equal(sent.slice(6));
    expect(seqsOf(replayInflux)).to.deep.equal(range(4, 10));
    expect(replayInflux.map((entry) => entry.envelope)).to.deep.equal(sent.slice(3));
    expect(await second.append(envelope())).to.equal(11);

    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(
      /3 segment\(s\), 10 entries \(#1\.\.#10\), \d+ bytes; checkpoints parquet=#6 influxdb=#3; no damaged tail/,
    );
  });

  it('commits on close the appends still waiting for their group, without waiting out the window', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { groupCommitWindowMs: 60_000, destinationIds: ['parquet'] });
    const item = envelope();
    const answer = journal.append(item);
    await journal.close();
    expect(await answer).to.equal(1);
    const reopened = await openIn(directory, { destinationIds: ['parquet'] });
    expect(await reopened.openCursor('parquet').next(10)).to.deep.equal([{ seq: 1, envelope: item }]);
  });

  it('replays after a crash (no close): from the last persisted checkpoint, at least once', async () => {
    const directory = await tempDirectory();
    const crashed = await openIn(directory, { destinationIds: ['parquet'], checkpointIntervalMs: 60_000 });
    const cursor = crashed.openCursor('parquet');
    const sent = await appendInTurn(crashed, 20);
    ackAll(cursor, await readExactly(cursor, 5));
    await crashed.flushCheckpoints(); // the throttled save happened for #5 ...
    ackAll(cursor, await readExactly(cursor, 5)); // ... but not yet for #10 when the process died

    const reopened = await openIn(directory, { destinationIds: ['parquet'] });
    const replay = await readExactly(reopened.openCursor('parquet'), 15);
    expect(seqsOf(replay)).to.deep.equal(range(6, 20));
    expect(replay.map((entry) => entry.envelope)).to.deep.equal(sent.slice(5));
  });

  for (const [label, cutAt] of [
    ['inside the last header', (b: number[]) => b[4] + 5],
    ['inside the last payload', (b: number[]) => b[4] + HEADER_BYTES + 10],
    ['one byte short of the end', (b: number[]) => b[5] - 1],
    ['inside an earlier record', (b: number[]) => b[2] + 20],
  ] as const) {
    it(`cuts a torn last segment (${label}) and replays every record before it`, async () => {
      const { directory, file, sent } = await closedJournalWith(5);
      const boundaries = recordBoundaries(await readFile(file));
      const offset = cutAt(boundaries);
      const goodRecords = boundaries.filter((boundary) => boundary <= offset).length - 1;
      const goodBytes = boundaries[goodRecords];
      await writeFile(file, (await readFile(file)).subarray(0, offset));

      const { logger, lines } = recordingLogger('info');
      const journal = await openIn(directory, { logger, destinationIds: ['parquet'] });
      expect(lines).to.have.length(1);
      expect(lines[0])
        .to.include(`cut ${offset - goodBytes} byte(s)`)
        .and.include(`at byte ${goodBytes}`);
      expect((await stat(file)).size).to.equal(goodBytes);

      const cursor = journal.openCursor('parquet');
      const replay = await readExactly(cursor, goodRecords);
      expect(seqsOf(replay)).to.deep.equal(range(1, goodRecords));
      expect(replay.map((entry) => entry.envelope)).to.deep.equal(sent.slice(0, goodRecords));
      expect(await journal.append(envelope())).to.equal(goodRecords + 1);
      expect(seqsOf(await cursor.next(10))).to.deep.equal([goodRecords + 1]);
    });
  }

  it('cuts the last segment at a flipped byte and says why', async () => {
    const { directory, file, sent } = await closedJournalWith(5);
    const bytes = await readFile(file);
    const boundaries = recordBoundaries(bytes);
    bytes[boundaries[2] + HEADER_BYTES + 30] ^= 0x04;
    await writeFile(file, bytes);

    const { logger, lines } = recordingLogger('info');
    const journal = await openIn(directory, { logger, destinationIds: ['parquet'] });
    expect(lines[0])
      .to.include(`cut ${bytes.length - boundaries[2]} byte(s)`)
      .and.include('CRC mismatch');
    const replay = await readExactly(journal.openCursor('parquet'), 2);
    expect(replay.map((entry) => entry.envelope)).to.deep.equal(sent.slice(0, 2));
    expect(journal.lastSeq).to.equal(2);
  });

  it('cuts the last segment where the sequence jumps', async () => {
    const directory = await tempDirectory();
    const records = [1, 2, 4].map((seq) => encodeRecord(seq, encodePayload(envelope())));
    await writeFile(path.join(directory, '0000000000000001.seg'), Buffer.concat(records));
    const { logger, lines } = recordingLogger('info');
    const journal = await openIn(directory, { logger });
    expect(lines[0]).to.include(`cut ${records[2].length} byte(s)`).and.include('expected #3, found #4');
    expect(journal.lastSeq).to.equal(2);
  });

  it('skips the rest of an older segment at a damaged record, loudly, and goes on with the next', async () => {
    const directory = await tempDirectory();
    const first = await openIn(directory, { segmentBytes: 4 * RECORD_BYTES, destinationIds: ['parquet'] });
    await appendInTurn(first, 10);
    await first.close();
    const [oldest] = await segmentFiles(directory);
    const bytes = await readFile(path.join(directory, oldest));
    bytes[recordBoundaries(bytes)[2] + HEADER_BYTES + 5] ^= 0xff; // record #3 of #1..#4
    await writeFile(path.join(directory, oldest), bytes);

    const { logger, lines } = recordingLogger('info');
    const journal = await openIn(directory, { logger, destinationIds: ['parquet'] });
    const replay = await readExactly(journal.openCursor('parquet'), 8);
    expect(seqsOf(replay)).to.deep.equal([1, 2, ...range(5, 10)]);
    const damage = lines.find((line) => line.startsWith('error: '));
    expect(damage).to.include(oldest).and.include('damaged at byte').and.include('entries up to #4 are lost');
  });
});

// ---------------------------------------------------------------------------------------
// Group commit and fsync modes
// ---------------------------------------------------------------------------------------

describe('Journal: group commit', () => {
  let datasync: sinon.SinonSpy;
  afterEach(() => datasync?.restore());

  it("shares one write and one fdatasync among appends that arrive together (fsync 'batch')", async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { destinationIds: ['parquet'] });
    datasync = await spyOnDatasync();
    const syncsWhenAnswered: number[] = [];
    const seqs = await Promise.all(
      Array.from({ length: 200 }, () =>
        journal.append(envelope()).then((seq) => {
          syncsWhenAnswered.push(datasync.callCount);
          return seq;
        }),
      ),
    );
    expect(seqs).to.deep.equal(range(1, 200));
    expect(datasync.callCount).to.be.greaterThan(0).and.lessThan(10);
    expect(journal.stats()).to.deep.include({ syncs: datasync.callCount, commits: datasync.callCount });
    expect(Math.min(...syncsWhenAnswered), 'no append answered before a sync').to.be.greaterThan(0);
    expect(seqsOf(await readExactly(journal.openCursor('parquet'), 200))).to.deep.equal(range(1, 200));
  });

  it("syncs once per append with fsync 'always'", async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { fsync: 'always' });
    datasync = await spyOnDatasync();
    await Promise.all(Array.from({ length: 20 }, () => journal.append(envelope())));
    expect(datasync.callCount).to.equal(20);
    expect(journal.stats()).to.deep.include({ syncs: 20, commits: 20 });
  });

  it("writes without syncing with fsync 'never', and the data still reads back after reopening", async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { fsync: 'never', destinationIds: ['parquet'] });
    datasync = await spyOnDatasync();
    const sent = await appendInTurn(journal, 20);
    expect(datasync.callCount).to.equal(0);
    await journal.close();
    const reopened = await openIn(directory, { destinationIds: ['parquet'] });
    const replay = await readExactly(reopened.openCursor('parquet'), 20);
    expect(replay.map((entry) => entry.envelope)).to.deep.equal(sent);
  });
});

// ---------------------------------------------------------------------------------------
// Segments, cursors, numbering
// ---------------------------------------------------------------------------------------

describe('Journal: segments and cursors', () => {
  it('deletes a segment only once every destination is past it, never the one being written', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { segmentBytes: 3 * RECORD_BYTES });
    await appendInTurn(journal, 30);
    const parquet = journal.openCursor('parquet');
    const influx = journal.openCursor('influxdb');
    const all = await segmentFiles(directory);
    expect(all).to.have.length(10);

    ackAll(parquet, await readExactly(parquet, 30));
    await journal.flushCheckpoints();
    expect(await segmentFiles(directory)).to.deep.equal(all);

    ackAll(influx, await readExactly(influx, 15));
    await journal.flushCheckpoints();
    const remaining = await segmentFiles(directory);
    expect(remaining[0]).to.equal('0000000000000016.seg');
    expect(remaining).to.deep.equal(all.slice(5));

    ackAll(influx, await readExactly(influx, 15));
    await journal.flushCheckpoints();
    expect(await segmentFiles(directory)).to.deep.equal([all[9]]);
    expect(journal.backlog()).to.deep.include({ entries: 0, bytes: 3 * RECORD_BYTES });
  });

  it('deletes a sealed segment as soon as the next one starts, when every destination is already past it', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, { segmentBytes: 2 * RECORD_BYTES, destinationIds: ['parquet'] });
    const cursor = journal.openCursor('parquet');
    await appendInTurn(journal, 2);
    ackAll(cursor, await readExactly(cursor, 2));
    await journal.flushCheckpoints();
    expect(await segmentFiles(directory)).to.deep.equal(['0000000000000001.seg']);
    await journal.append(envelope());
    expect(await segmentFiles(directory)).to.deep.equal(['0000000000000003.seg']);
  });

  it('catches up from disk a few entries at a time, each entry once, in order, reading each byte once', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, {
      destinationIds: ['parquet'],
      tailEntries: 10,
      readChunkBytes: 64 * RECORD_BYTES,
    });
    const sent: AuditEnvelope[] = [];
    for (let round = 0; round < 5; round += 1) {
      const batch = Array.from({ length: 100 }, () => envelope());
      await Promise.all(batch.map((item) => journal.append(item)));
      sent.push(...batch);
    }
    const segmentBytes = journal.stats().bytes;

    const reads = await spyOnRead();
    try {
      const entries = await readExactly(journal.openCursor('parquet'), 500, 7);
      expect(seqsOf(entries)).to.deep.equal(range(1, 500));
      expect(entries.map((entry) => entry.envelope)).to.deep.equal(sent);
      // Re-reading the rest of each chunk after every next(7) read about 9 times as much.
      expect(await reads.bytesRead()).to.be.at.most(segmentBytes);
    } finally {
      reads.restore();
    }
  });

  it('serves a cursor far behind from disk and one that keeps up from memory, each entry once, in order', async () => {
    const directory = await tempDirectory();
    const journal = await openIn(directory, {
      tailEntries: 200,
      readChunkBytes: 4096,
      segmentBytes: 100 * RECORD_BYTES,
    });
    const fast = journal.openCursor('parquet');
    const slow = journal.openCursor('influxdb');
    const sent: AuditEnvelope[] = [];
    const fromFast: LogEntry[] = [];
    for (let round = 0; round < 10; round += 1) {
      const batch = Array.from({ length: 100 }, () => envelope());
      await Promise.all(batch.map((item) => journal.append(item)));
      sent.push(...batch);
      fromFast.push(...(await readExactly(fast, 100)));
    }
    const fromSlow = await readExactly(slow, 1000, 64);

    expect(seqsOf(fromFast)).to.deep.equal(range(1, 1000));
    expect(seqsOf(fromSlow)).to.deep.equal(range(1, 1000));
    expect(fromSlow.map((entry) => entry.envelope)).to.deep.equal(sent);
    // Memory hands out the very objects that were appended; disk hands out parsed copies.
    expect(fromFast.every((entry, index) => entry.envelope === sent[index])).to.equal(true);
    expect(fromSlow.slice(0, 800).some((entry, index) => entry.envelope === sent[index])).to.equal(false);
    expect(fromSlow.slice(800).every((entry, index) => entry.envelope === sent[800 + index])).to.equal(true);
  });

  it('starts a cursor after max(checkpoint, atLeast), and numbers new entries after a destination that is ahead', async () => {
    const directory = await tempDirectory();
    const first = await openIn(directory);
    await appendInTurn(first, 10);
    await first.close();

    const journal = await openIn(directory);
    const parquet = journal.openCursor('parquet', { atLeast: 7 });
    expect(parquet.checkpoint).to.equal(7);
    expect(seqsOf(await parquet.next(10))).to.deep.equal([8, 9, 10]);
    await journal.close();

    const restarted = await openIn(directory);
    const ahead = restarted.openCursor('parquet', { atLeast: 50 });
    const influx = restarted.openCursor('influxdb');
    expect(await restarted.append(envelope())).to.equal(51);
    expect(seqsOf(await ahead.next(10))).to.deep.equal([51]);
    const fromInflux = await readExactly(influx, 11);
    expect(seqsOf(fromInflux)).to.deep.equal([...range(1, 10), 51]);
    ackAll(influx, fromInflux);
    expect(influx.checkpoint).to.equal(51);
  });
});

// ---------------------------------------------------------------------------------------
// A real crash
// ---------------------------------------------------------------------------------------

describe('Journal: SIGKILL while appending', () => {
  /** Runs the append loop until it printed at least `lines` answers, then kills it with SIGKILL. */
  async function runAndKill(directory: string, lines: number): Promise<Map<number, string>> {
    const child = spawn(process.execPath, ['--import', 'tsx', APPEND_LOOP, directory], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errors = '';
    child.stderr.on('data', (chunk) => (errors += chunk));
    // 'close' comes after the process exited and its stdout was read to the end.
    const closed = new Promise((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        if (output.split('\n').length > lines) setTimeout(resolve, Math.random() * 20);
      });
      child.on('exit', () => reject(new Error(`append loop exited early: ${errors}`)));
    });
    child.kill('SIGKILL');
    await closed;
    const answered = new Map<number, string>();
    for (const line of output.split('\n').slice(0, -1)) {
      const [seq, eventId] = line.split(' ');
      answered.set(Number(seq), eventId);
    }
    return answered;
  }

  it('keeps every append that was answered, intact, and nothing else', async () => {
    for (const lines of [200 + Math.floor(Math.random() * 300), 1500 + Math.floor(Math.random() * 1000)]) {
      const directory = await tempDirectory();
      const answered = await runAndKill(directory, lines);
      const journal = await openIn(directory, { destinationIds: ['parquet'] });
      const entries = await readExactly(journal.openCursor('parquet'), journal.lastSeq, 1000);

      expect(seqsOf(entries)).to.deep.equal(range(1, journal.lastSeq));
      expect(entries.every((entry) => typeof entry.envelope.eventId === 'string')).to.equal(true);
      const stored = new Map(entries.map((entry) => [entry.seq, entry.envelope.eventId]));
      for (const [seq, eventId] of answered) expect(stored.get(seq), `answered #${seq}`).to.equal(eventId);
      expect(Math.max(...answered.keys())).to.be.at.most(journal.lastSeq);
      await journal.close();
    }
  });
});
