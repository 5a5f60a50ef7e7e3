/**
 * The journal's two durability promises on the real file system (docs/journal.md):
 *
 * - 202 means on disk: an append (and so an HTTP 202) is answered only after the fdatasync
 *   that covers its record has COMPLETED; every fdatasync is held at a gate the test opens,
 *   so an answer that does not wait for it shows up before the sync's completion.
 * - A torn tail is cut at the next open, and life goes on: what is appended after the
 *   recovery survives the next restart as well as what was answered before the tear.
 */
import { ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurnOfEventLoop } from 'node:timers/promises';
import { expect } from 'chai';
import sinon from 'sinon';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { openJournal, type FsyncMode, type Journal } from '../../src/lib/audit-journal/journal.js';
import { encodePayload, encodeRecord } from '../../src/lib/audit-journal/record-format.js';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { postAuditEvent } from '../support/audit-api-client.js';
import { holdDatasyncs, type DatasyncGate } from '../support/datasync-gate.js';
import { freshEnvelope } from '../support/fixtures.js';
import { TORN_TAILS, segmentFiles, tearLastSegment } from '../support/journal-segments.js';
import { range, readThrough, seqsOf } from '../support/log-entries.js';
import { tempDir } from '../support/module-process.js';

const envelope = () => freshEnvelope('navigation.sheet.loaded');
const RECORD_BYTES = encodeRecord(1, encodePayload(envelope())).length;

let gate: DatasyncGate | null = null;
let statusLines: sinon.SinonSpy | null = null;
let journals: Journal[] = [];
let modules: AuditModule[] = [];
let directories: string[] = [];

/** Closes what a test opened; the gate first, since closing waits for the syncs it holds. */
async function cleanUp(): Promise<void> {
  gate?.restore();
  gate = null;
  statusLines?.restore();
  statusLines = null;
  await Promise.all(modules.map((module) => module.stop()));
  await Promise.all(journals.map((journal) => journal.close()));
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
  modules = [];
  journals = [];
  directories = [];
}

function directory(prefix: string): string {
  const created = tempDir(prefix);
  directories.push(created);
  return created;
}

async function openIn(journalDirectory: string, fsync: FsyncMode = 'batch', segmentBytes?: number) {
  const journal = await openJournal({
    directory: journalDirectory,
    maxBytes: 64 * 1024 * 1024,
    fsync,
    destinationIds: ['parquet'],
    logger: createSilentLogger(),
    segmentBytes,
  });
  journals.push(journal);
  return journal;
}

/** Notes on the gate's timeline when `answer` resolves. */
function noteWhenAnswered<T>(answer: Promise<T>, label: string): Promise<T> {
  return answer.then((value) => {
    gate?.note(label);
    return value;
  });
}

/** Appends now and notes `append #N answered` (N from 1) when each resolves. */
function appendNoting(journal: Journal, count: number, firstNumber: number): Promise<number[]> {
  return Promise.all(
    range(firstNumber, firstNumber + count - 1).map((number) =>
      noteWhenAnswered(journal.append(envelope()), `append #${number} answered`),
    ),
  );
}

function answeredLabels(first: number, last: number): string[] {
  return range(first, last).map((number) => `append #${number} answered`);
}

describe('Journal durability: an append is answered only once its fdatasync has completed', () => {
  afterEach(cleanUp);

  it("answers an append after the fdatasync of its record completed, not while it is held (fsync 'batch')", async () => {
    const journal = await openIn(directory('sync-batch'));
    gate = await holdDatasyncs();
    const answer = appendNoting(journal, 1, 1);
    const sync = await gate.call(1);
    // An append that does not wait for its sync is answered within this turn of the event loop.
    await nextTurnOfEventLoop();
    expect(gate.timeline, 'answered while its fdatasync was still held').to.deep.equal([]);

    sync.release();
    expect(await answer).to.deep.equal([1]);
    expect(gate.timeline).to.deep.equal(['sync 1 completed', 'append #1 answered']);
  });

  it('answers a group commit after its one shared fdatasync completed, and a group queued behind it after its own', async () => {
    const journal = await openIn(directory('sync-group'));
    gate = await holdDatasyncs();
    const firstGroup = appendNoting(journal, 5, 1);
    const firstSync = await gate.call(1);
    // Arrive while the first group is being synced: its fdatasync may not cover them.
    const secondGroup = appendNoting(journal, 3, 6);
    await nextTurnOfEventLoop();
    expect(gate.timeline, 'answered while the group fdatasync was still held').to.deep.equal([]);
    expect(gate.calls, 'the five appends share one fdatasync').to.have.length(1);

    firstSync.release();
    expect(await firstGroup).to.deep.equal(range(1, 5));
    const secondSync = await gate.call(2);
    await nextTurnOfEventLoop();
    expect(gate.timeline, 'the second group waits for its own fdatasync').to.deep.equal([
      'sync 1 completed',
      ...answeredLabels(1, 5),
    ]);

    secondSync.release();
    expect(await secondGroup).to.deep.equal(range(6, 8));
    expect(gate.timeline).to.deep.equal([
      'sync 1 completed',
      ...answeredLabels(1, 5),
      'sync 2 completed',
      ...answeredLabels(6, 8),
    ]);
    expect(journal.stats()).to.deep.include({ commits: 2, syncs: 2 });
  });

  it("answers each append after its own fdatasync completed (fsync 'always')", async () => {
    const journal = await openIn(directory('sync-always'), 'always');
    gate = await holdDatasyncs();
    const answers = appendNoting(journal, 3, 1);
    const expected: string[] = [];
    for (const number of [1, 2, 3]) {
      const sync = await gate.call(number);
      await nextTurnOfEventLoop();
      expect(gate.timeline, `append #${number} answered while its fdatasync was held`).to.deep.equal(
        expected,
      );
      expect(gate.calls, 'one fdatasync at a time').to.have.length(number);
      sync.release();
      await sync.completed;
      expected.push(`sync ${number} completed`);
      // The next sync is only called once this append is answered: wait for that before comparing.
      if (number < 3) await gate.call(number + 1);
      else await answers;
      expected.push(`append #${number} answered`);
    }
    expect(await answers).to.deep.equal([1, 2, 3]);
    expect(gate.timeline).to.deep.equal(expected);
    expect(journal.stats()).to.deep.include({ commits: 3, syncs: 3 });
  });

  it('answers POST /api/v1/audit-event with 202 only after the fdatasync of its event completed', async () => {
    const config = validConfig({
      port: 0,
      rateLimit: { enable: false },
      journal: { directory: directory('sync-http-journal') },
      destination: { parquet: { exportDirectory: directory('sync-http-parquet') } },
    });
    const module = createAuditModule(config, { logger: createSilentLogger(), version: '0.0.0-test' });
    modules.push(module);
    const address = await module.start();
    const baseUrl = `http://127.0.0.1:${address?.port}`;
    gate = await holdDatasyncs();
    statusLines = sinon.spy(ServerResponse.prototype, 'writeHead');

    const answer = noteWhenAnswered(postAuditEvent(baseUrl, envelope()), 'HTTP answered');
    const sync = await gate.call(1);
    // A request that does not touch the journal, sent after the event reached its fdatasync and
    // answered: the event's 202, were it not waiting, would have been written before.
    expect((await fetch(`${baseUrl}/api/v1/test-connection`)).status).to.equal(200);
    await nextTurnOfEventLoop();
    const answeredWhileHeld = statusLines.getCalls().filter((call) => call.args[0] !== 200);
    expect(
      answeredWhileHeld.map((call) => call.args[0]),
      'status written while the sync was held',
    ).to.deep.equal([]);
    expect(gate.timeline, 'answered while its fdatasync was still held').to.deep.equal([]);

    sync.release();
    const response = await answer;
    expect(response.status).to.equal(202);
    expect(await response.json()).to.include({ status: 'accepted', outcome: 'processed' });
    expect(gate.timeline).to.deep.equal(['sync 1 completed', 'HTTP answered']);
  });
});

describe('Journal durability: a torn tail is cut, and what comes after survives the next restart', () => {
  afterEach(cleanUp);

  for (const tear of TORN_TAILS) {
    it(`keeps every event answered before and after the recovery, each once (${tear.label})`, async () => {
      const journalDirectory = directory('torn-tail');
      const sent: AuditEnvelope[] = [];
      const appendInTurn = async (journal: Journal, count: number) => {
        for (let index = 0; index < count; index += 1) {
          const item = envelope();
          sent.push(item);
          expect(await journal.append(item)).to.equal(sent.length);
        }
      };

      // Small segments first, so that the tear is in the last one of several.
      const beforeTheTear = await openIn(journalDirectory, 'batch', 4 * RECORD_BYTES);
      await appendInTurn(beforeTheTear, 10);
      await beforeTheTear.close();
      const torn = await tearLastSegment(journalDirectory, tear);

      // Default segments from here: the appends after the recovery go into the torn segment.
      const recovered = await openIn(journalDirectory);
      expect(recovered.lastSeq, 'the torn bytes are not an entry').to.equal(10);
      await appendInTurn(recovered, 7);
      await recovered.close();
      expect(await segmentFiles(journalDirectory)).to.deep.equal([
        '0000000000000001.seg',
        '0000000000000005.seg',
        path.basename(torn.file),
      ]);

      const restarted = await openIn(journalDirectory);
      expect(restarted.lastSeq, 'the last entry after the second restart').to.equal(17);
      const entries = await readThrough(restarted.openCursor('parquet'), restarted.lastSeq);
      expect(seqsOf(entries)).to.deep.equal(range(1, 17));
      expect(entries.map((entry) => entry.envelope.eventId)).to.deep.equal(sent.map((item) => item.eventId));
    });
  }
});
