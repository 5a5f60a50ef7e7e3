/**
 * The delivery loop's rules, with a fake clock: batching (maxBatchSize, writeFrequency, per
 * event), retries with back-off and Retry-After, the reject policy (isolation by progressive
 * sizes, dead letters before acks), configuration problems, drain and stop, and memory that
 * holds one batch in flight and one read ahead. The log is the real in-memory log and the dead
 * letters go to a real file; the sink records what it is given and fails on demand, since the
 * loop's rules are what is under test here (the real sinks have their own tests).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { DeadLetterFile } from '../../src/lib/audit-destinations/dead-letter.js';
import type { AuditDestination } from '../../src/lib/audit-destinations/destination.js';
import type { BatchItem, Sink, WriteResult } from '../../src/lib/audit-destinations/sink.js';
import { MemoryEventLog } from '../../src/lib/audit-journal/memory-log.js';
import { DeliveryLoop } from '../../src/lib/delivery/delivery-loop.js';
import { AuditEventProcessor } from '../../src/lib/delivery/processor.js';
import { retryDelayMs } from '../../src/lib/delivery/retry.js';
import { ConfigurationError, RefusedBatchError, TransientError } from '../../src/lib/errors.js';
import { createSilentLogger, type Logger } from '../../src/lib/logger.js';
import { freshEnvelope } from '../support/fixtures.js';
import { range } from '../support/log-entries.js';

/** Taken before sinon fakes the timers (it fakes node:timers/promises too). */
const realSetTimeout = globalThis.setTimeout;
const realSleep = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

type Outcome = (batch: readonly BatchItem[]) => WriteResult | Error;

/** Records every attempt (as the events' seqs) and answers with the planned outcomes, in order. */
class RecordingSink implements Sink {
  readonly attempts: number[][] = [];
  readonly written: number[] = [];
  private readonly plans: Outcome[] = [];
  /** Refuses, as a server would, every batch holding one of these seqs. */
  readonly poison = new Set<number>();

  plan(...outcomes: Array<Outcome | Error>): void {
    for (const outcome of outcomes) this.plans.push(outcome instanceof Error ? () => outcome : outcome);
  }

  async write(batch: readonly BatchItem[]): Promise<WriteResult> {
    const seqs = batch.map((item) => item.seq!);
    this.attempts.push(seqs);
    const planned = this.plans.shift()?.(batch);
    if (planned instanceof Error) throw planned;
    if (planned) {
      const unwritten = new Set<BatchItem>([...planned.kept, ...planned.rejected.map((r) => r.item)]);
      this.written.push(...batch.filter((item) => !unwritten.has(item)).map((item) => item.seq!));
      return planned;
    }
    if (seqs.some((seq) => this.poison.has(seq))) {
      return { rejected: [], kept: [...batch], failure: new RefusedBatchError('bad point', { status: 400 }) };
    }
    this.written.push(...seqs);
    return { rejected: [], kept: [] };
  }

  async close(): Promise<void> {}
}

function stubLogger(): Logger & Record<'error' | 'warn' | 'info', sinon.SinonStub> {
  return Object.assign(createSilentLogger(), {
    error: sinon.stub(),
    warn: sinon.stub(),
    info: sinon.stub(),
  }) as never;
}

describe('DeliveryLoop', () => {
  let clock: sinon.SinonFakeTimers;
  let dir: string;
  let log: MemoryEventLog;
  let sink: RecordingSink;
  let loops: DeliveryLoop[];

  beforeEach(() => {
    clock = sinon.useFakeTimers({
      now: Date.parse('2026-10-14T08:00:00Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    dir = mkdtempSync(path.join(os.tmpdir(), 'delivery-loop-'));
    log = new MemoryEventLog(100_000);
    sink = new RecordingSink();
    loops = [];
  });

  afterEach(async () => {
    await Promise.all(loops.map((loop) => loop.stop()));
    await log.close();
    clock.restore();
    rmSync(dir, { recursive: true, force: true });
  });

  function deadLetterPath(): string {
    return path.join(dir, 'dead-letter', 'test-20261014.ndjson');
  }

  function startLoop(
    options: { maxBatchSize?: number; writeFrequency?: number; logger?: Logger; ready?: Promise<void> } = {},
  ) {
    const destination: AuditDestination = {
      id: 'parquet',
      sink,
      maxBatchSize: options.maxBatchSize ?? 1000,
      writeFrequency: options.writeFrequency ?? 20_000,
      durableThrough: 0,
      ready: options.ready,
      close: async () => {},
    };
    const logger = options.logger ?? createSilentLogger();
    const cursor = log.openCursor('parquet');
    const loop = new DeliveryLoop({
      destination,
      cursor,
      processor: new AuditEventProcessor({ maxConcurrent: 4, readers: 1, maxShared: 100, logger }),
      deadLetters: new DeadLetterFile(path.join(dir, 'dead-letter'), 'test'),
      logger,
      retry: { initialDelayMs: 1000, maxDelayMs: 60_000 },
    });
    loops.push(loop);
    loop.start();
    return { loop, cursor };
  }

  async function append(count: number): Promise<void> {
    for (let index = 0; index < count; index += 1) await log.append(freshEnvelope('object.view.duration'));
  }

  /** Advances the fake clock in steps and lets real file I/O (the dead-letter file) finish in between. */
  async function runUntil(condition: () => boolean, stepMs = 1000): Promise<void> {
    for (let step = 0; step < 1000 && !condition(); step += 1) {
      await clock.tickAsync(stepMs);
      await realSleep(2);
    }
  }

  const sizes = () => sink.attempts.map((attempt) => attempt.length);

  describe('batching', () => {
    it('writes full batches at once when the log holds more than maxBatchSize', async () => {
      const { cursor } = startLoop({ maxBatchSize: 1000, writeFrequency: 20_000 });
      await append(2500);
      await clock.tickAsync(10);
      expect(sizes()).to.deep.equal([1000, 1000]);
      await clock.tickAsync(20_000);
      expect(sizes()).to.deep.equal([1000, 1000, 500]);
      expect(sink.written).to.deep.equal(range(1, 2500));
      expect(cursor.checkpoint).to.equal(2500);
    });

    it('writes a batch that did not fill once writeFrequency ms have passed since its first event', async () => {
      startLoop({ maxBatchSize: 100, writeFrequency: 5000 });
      await append(3);
      await clock.tickAsync(4999);
      expect(sink.attempts).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(sink.attempts).to.deep.equal([[1, 2, 3]]);
    });

    it('fills the next batch while one is written: under load every batch is full', async () => {
      startLoop({ maxBatchSize: 10, writeFrequency: 20_000 });
      for (let round = 0; round < 5; round += 1) {
        await append(7);
        await clock.tickAsync(1);
      }
      await clock.tickAsync(20_000);
      expect(sizes()).to.deep.equal([10, 10, 10, 5]);
    });

    it('writes every event on its own when writeFrequency is 0', async () => {
      startLoop({ maxBatchSize: 100, writeFrequency: 0 });
      await append(3);
      await clock.tickAsync(1);
      expect(sink.attempts).to.deep.equal([[1], [2], [3]]);
    });
  });

  describe('failures', () => {
    it('retries a failed batch after a back-off, first and in order, while the log keeps accepting', async () => {
      sink.plan(new TransientError('down'), new TransientError('down'));
      const logger = stubLogger();
      startLoop({ maxBatchSize: 2, writeFrequency: 0, logger });
      await append(1);
      await clock.tickAsync(1);
      await append(1);
      await clock.tickAsync(60_000);
      expect(sink.attempts).to.deep.equal([[1], [1], [1], [2]]);
      expect(sink.written).to.deep.equal([1, 2]);
      expect(logger.warn.callCount).to.equal(2);
      expect(logger.warn.firstCall.args[0]).to.match(
        /^parquet: write of 1 event\(s\) failed \(down\); retrying in \d+ ms$/,
      );
      // Once, when the failures end: not for every batch after.
      expect(logger.info.args.map(([message]) => message)).to.deep.equal([
        'parquet: writing again after 2 failed attempt(s); the events kept meanwhile follow',
      ]);
    });

    it("waits at least a server's Retry-After: the computed delay, not a clock reading", async () => {
      sink.plan(new TransientError('503', 30_000));
      startLoop({ writeFrequency: 0 });
      await append(1);
      await clock.tickAsync(29_999);
      expect(sink.attempts).to.have.length(1);
      await clock.tickAsync(1);
      expect(sink.attempts).to.have.length(2);
      expect(
        retryDelayMs(1, { initialDelayMs: 1000, maxDelayMs: 60_000 }, new TransientError('503', 30_000)),
      ).to.equal(30_000);
    });

    it('retries at once when the target becomes ready instead of waiting out the back-off', async () => {
      let markReady!: () => void;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      sink.plan(new ConfigurationError('404', 'create the database'));
      startLoop({ writeFrequency: 0, ready });
      await append(1);
      await clock.tickAsync(10);
      expect(sink.attempts).to.have.length(1);
      markReady();
      await clock.tickAsync(1);
      expect(sink.written).to.deep.equal([1]);
    });

    it('keeps events refused for a configuration problem, logs the fix at most once a minute, never dead-letters', async () => {
      const logger = stubLogger();
      for (let index = 0; index < 20; index += 1)
        sink.plan(new ConfigurationError('HTTP 401', 'check the token'));
      const { cursor } = startLoop({ writeFrequency: 0, logger });
      await append(1);
      await clock.tickAsync(119_000);
      const attempts = sink.attempts.length;
      expect(attempts).to.be.greaterThan(3);
      expect(logger.error.callCount).to.equal(2);
      expect(logger.error.firstCall.args[0]).to.include('check the token').and.include('none are dropped');
      expect(cursor.checkpoint).to.equal(0);
      expect(existsSync(deadLetterPath())).to.equal(false);
      await clock.tickAsync(3_600_000);
      expect(sink.written).to.deep.equal([1]);
      expect(cursor.checkpoint).to.equal(1);
    });

    it('holds one batch in flight and one read ahead while the destination is down, whatever the backlog', async () => {
      sink.plan(...Array.from({ length: 1000 }, () => new TransientError('down')));
      const { loop } = startLoop({ maxBatchSize: 100, writeFrequency: 1000 });
      await append(5000);
      await clock.tickAsync(600_000);
      expect(loop.status()).to.include({ buffered: 200, healthy: false, checkpoint: 0 });
      expect(log.backlog().entries).to.equal(5000);
    });
  });

  describe('the reject policy', () => {
    it('narrows a refused batch by 1000, 500, 250, 100, 10, 1 and dead-letters only the poison, before its ack', async () => {
      sink.poison.add(737);
      const { cursor } = startLoop({ maxBatchSize: 1000 });
      await append(1000);
      await runUntil(() => cursor.checkpoint === 1000, 1);
      // Depth first, in log order: each refused chunk is split by the next size before the
      // chunks after it are written.
      expect(sizes()).to.deep.equal([
        1000, // refused
        500, // 1..500 written
        500, // 501..1000 refused
        250, // 501..750 refused
        100,
        100, // 501..700 written
        50, // 701..750 refused
        10,
        10,
        10, // 701..730 written
        10, // 731..740 refused
        ...Array<number>(10).fill(1), // 731..740 one by one: 737 dead-lettered
        10, // 741..750
        250, // 751..1000
      ]);
      expect(sink.written).to.have.length(999).and.not.include(737);
      const records = readFileSync(deadLetterPath(), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(records).to.have.length(1);
      expect(records[0]).to.include({ seq: 737, reason: 'bad point', status: 400, destination: 'test' });
      expect(records[0].envelope.eventId).to.equal(records[0].eventId);
      expect(cursor.checkpoint).to.equal(1000);
    });

    it('dead-letters what a sink rejects by name, and writes the rest', async () => {
      sink.plan((batch) => ({ rejected: [{ item: batch[1], reason: 'not a YYYYMMDD date' }], kept: [] }));
      const { cursor } = startLoop({ maxBatchSize: 3 });
      await append(3);
      await runUntil(() => cursor.checkpoint === 3, 1);
      expect(sink.written).to.deep.equal([1, 3]);
      expect(readFileSync(deadLetterPath(), 'utf8')).to.include('not a YYYYMMDD date');
      expect(cursor.checkpoint).to.equal(3);
    });

    it('keeps a refused event unacked while its dead-letter record cannot be written, and settles it once it can', async () => {
      // A file where the dead-letter directory should be: mkdir fails until it is gone.
      writeFileSync(path.join(dir, 'dead-letter'), 'in the way');
      sink.poison.add(2);
      const { cursor } = startLoop({ maxBatchSize: 3 });
      await append(3);
      await runUntil(() => sink.attempts.length >= 8);
      expect(cursor.checkpoint).to.equal(1);
      rmSync(path.join(dir, 'dead-letter'));
      await runUntil(() => cursor.checkpoint === 3);
      expect(cursor.checkpoint).to.equal(3);
      expect(readFileSync(deadLetterPath(), 'utf8').trim().split('\n')).to.have.length(1);
      expect(sink.written).to.include.members([1, 3]);
    });
  });

  describe('drain and stop', () => {
    it('drain writes a partial batch at once instead of waiting writeFrequency', async () => {
      const { loop } = startLoop({ maxBatchSize: 100, writeFrequency: 20_000 });
      await append(3);
      await clock.tickAsync(1);
      const drained = loop.drain(log.lastSeq, Date.now() + 5_000);
      await clock.tickAsync(1);
      expect(await drained).to.equal(true);
      expect(sink.written).to.deep.equal([1, 2, 3]);
    });

    it('drain gives up at its deadline while the destination is down; stop leaves the events in the log', async () => {
      sink.plan(...Array.from({ length: 100 }, () => new TransientError('down')));
      const { loop, cursor } = startLoop({ writeFrequency: 0 });
      await append(2);
      const drained = loop.drain(log.lastSeq, Date.now() + 10_000);
      await clock.tickAsync(10_000);
      expect(await drained).to.equal(false);
      const stopped = loop.stop();
      await clock.tickAsync(1);
      await stopped;
      expect(cursor.checkpoint).to.equal(0);
      expect(log.backlog().entries).to.equal(2);
    });
  });
});

describe('retryDelayMs', () => {
  const retry = { initialDelayMs: 1000, maxDelayMs: 60000 };
  const error = new Error('down');

  it('doubles per failure in a row, with jitter between half and all of it', () => {
    expect(retryDelayMs(1, retry, error, () => 0)).to.equal(500);
    expect(retryDelayMs(1, retry, error, () => 1)).to.equal(1000);
    expect(retryDelayMs(3, retry, error, () => 1)).to.equal(4000);
    expect(retryDelayMs(3, retry, error, () => 0.5)).to.equal(3000);
  });

  it('stops growing at maxDelayMs', () => {
    expect(retryDelayMs(30, retry, error, () => 1)).to.equal(60000);
  });

  it('never waits less than the Retry-After of a transient or configuration failure', () => {
    expect(retryDelayMs(1, retry, new TransientError('429', 90000), () => 1)).to.equal(90000);
    expect(retryDelayMs(3, retry, new TransientError('429', 10), () => 1)).to.equal(4000);
    expect(retryDelayMs(1, retry, new ConfigurationError('403', 'fix', 7000), () => 0)).to.equal(7000);
  });

  it('waits at most an hour for a Retry-After (setTimeout fires after 1 ms beyond 2^31-1 ms)', () => {
    const hour = 60 * 60 * 1000;
    expect(retryDelayMs(1, retry, new TransientError('503', 2 ** 31), () => 1)).to.equal(hour);
    expect(retryDelayMs(1, retry, new TransientError('503', 7 * 24 * hour), () => 0)).to.equal(hour);
  });
});
