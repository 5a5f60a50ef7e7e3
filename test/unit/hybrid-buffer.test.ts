import { expect } from 'chai';
import sinon from 'sinon';
import {
  PartialWriteError,
  type BatchItem,
  type BatchSink,
  type Delivery,
} from '../../src/lib/audit-destinations/destination.js';
import {
  BufferCloseTimeoutError,
  HybridBuffer,
  retryDelayMs,
  type HybridBufferOptions,
} from '../../src/lib/audit-destinations/hybrid-buffer.js';
import { PermanentError, TransientError } from '../../src/lib/errors.js';
import { createSilentLogger, type Logger } from '../../src/lib/logger.js';

type FailurePlan = (batch: BatchItem<string>[]) => unknown;

/** An in-memory sink that records every attempt and fails on demand. */
class RecordingSink implements BatchSink<string> {
  /** Every batch passed to write(), successful or not. */
  readonly attempts: string[][] = [];
  /** The batches that were written, in order. */
  readonly written: string[][] = [];
  /** When each attempt started (fake clock ms). */
  readonly attemptTimes: number[] = [];
  private readonly failures: FailurePlan[] = [];
  writeDurationMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  /** The next attempts fail, one plan each: an error, or a function of the batch giving one. */
  failNext(...plans: Array<unknown>): void {
    for (const plan of plans)
      this.failures.push(typeof plan === 'function' ? (plan as FailurePlan) : () => plan);
  }

  failAlways(error: unknown): void {
    this.failNext(...Array.from({ length: 1000 }, () => error));
  }

  get writtenValues(): string[] {
    return this.written.flat();
  }

  async write(batch: BatchItem<string>[]): Promise<void> {
    this.attempts.push(batch.map((item) => item.value));
    this.attemptTimes.push(Date.now());
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.writeDurationMs > 0) await new Promise((resolve) => setTimeout(resolve, this.writeDurationMs));
      const failure = this.failures.shift();
      if (failure) throw failure(batch);
      this.written.push(batch.map((item) => item.value));
    } finally {
      this.inFlight -= 1;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function stubLogger(): Logger & Record<'error' | 'warn' | 'info' | 'debug', sinon.SinonStub> {
  const logger = createSilentLogger();
  return Object.assign(logger, {
    error: sinon.stub(),
    warn: sinon.stub(),
    info: sinon.stub(),
    debug: sinon.stub(),
  }) as never;
}

describe('HybridBuffer', () => {
  let clock: sinon.SinonFakeTimers;
  let sink: RecordingSink;
  let acked: number[];

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-10-14T08:00:00Z') });
    sink = new RecordingSink();
    acked = [];
  });

  afterEach(() => {
    clock.restore();
  });

  function makeBuffer(options: Partial<HybridBufferOptions<string>> = {}): HybridBuffer<string> {
    return new HybridBuffer<string>({
      id: 'test',
      maxBatchSize: 100,
      writeFrequency: 1000,
      sink,
      logger: createSilentLogger(),
      retry: { initialDelayMs: 1000, maxDelayMs: 60000 },
      ...options,
    });
  }

  function delivery(seq: number): Delivery {
    return { seq, ack: () => acked.push(seq) };
  }

  /** Adds values a, b, c... with seqs 1, 2, 3... (or the given first seq). */
  function addAll(buffer: HybridBuffer<string>, values: string[], firstSeq = 1): void {
    values.forEach((value, index) => buffer.add(value, delivery(firstSeq + index)));
  }

  describe('when it writes', () => {
    it('flushes on the timer, every writeFrequency ms', async () => {
      const buffer = makeBuffer({ writeFrequency: 1000 });
      addAll(buffer, ['a', 'b', 'c']);

      await clock.tickAsync(999);
      expect(sink.attempts).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(sink.written).to.deep.equal([['a', 'b', 'c']]);

      addAll(buffer, ['d'], 4);
      await clock.tickAsync(1000);
      expect(sink.written).to.deep.equal([['a', 'b', 'c'], ['d']]);
      expect(acked).to.deep.equal([1, 2, 3, 4]);
    });

    it('flushes at once when maxBatchSize items are buffered', async () => {
      const buffer = makeBuffer({ maxBatchSize: 3, writeFrequency: 60000 });
      addAll(buffer, ['a', 'b']);
      await clock.tickAsync(0);
      expect(sink.attempts).to.deep.equal([]);

      addAll(buffer, ['c'], 3);
      await clock.tickAsync(0);
      expect(sink.written).to.deep.equal([['a', 'b', 'c']]);
      expect(buffer.size).to.equal(0);
    });

    it('never writes a batch larger than maxBatchSize', async () => {
      const buffer = makeBuffer({ maxBatchSize: 3, writeFrequency: 60000 });
      sink.writeDurationMs = 10; // so that all 7 are buffered before the first write ends
      addAll(buffer, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      const flushed = buffer.flush();
      await clock.tickAsync(100);
      await flushed;

      expect(sink.written).to.deep.equal([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
      expect(acked).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    });

    it('writes every item on its own when writeFrequency is 0', async () => {
      const buffer = makeBuffer({ writeFrequency: 0, maxBatchSize: 100 });
      sink.writeDurationMs = 5;
      addAll(buffer, ['a', 'b', 'c']);
      await clock.tickAsync(100);

      expect(sink.written).to.deep.equal([['a'], ['b'], ['c']]);
      expect(sink.maxInFlight).to.equal(1);
      expect(acked).to.deep.equal([1, 2, 3]);
    });

    it('writes an item added at any moment around the end of a write', async () => {
      // Items arrive from other promise chains: whatever microtask they land in, none may be
      // left behind because the previous flush was just finishing.
      const lateValues = Array.from({ length: 12 }, (_, depth) => `late-${depth}`);
      const writes: string[][] = [];
      let buffer: HybridBuffer<string> | null = null;
      const addAfterMicrotasks = (depth: number, value: string): void => {
        if (depth === 0) buffer?.add(value);
        else void Promise.resolve().then(() => addAfterMicrotasks(depth - 1, value));
      };
      buffer = makeBuffer({
        writeFrequency: 0,
        sink: {
          write: async (batch) => {
            writes.push(batch.map((item) => item.value));
            if (writes.length === 1) lateValues.forEach((value, depth) => addAfterMicrotasks(depth, value));
          },
        },
      });
      buffer.add('first');
      await clock.tickAsync(10);
      expect(writes.flat()).to.deep.equal(['first', ...lateValues]);
    });

    it('coalesces flushes: one write at a time, later requests served by the next write', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.writeDurationMs = 100;
      addAll(buffer, ['a']);
      const first = buffer.flush();
      await clock.tickAsync(10);
      addAll(buffer, ['b'], 2);
      const second = buffer.flush();
      addAll(buffer, ['c'], 3);
      const third = buffer.flush();
      const fourth = buffer.flush();

      await clock.tickAsync(250);
      await Promise.all([first, second, third, fourth]);
      expect(sink.attempts).to.deep.equal([['a'], ['b', 'c']]);
      expect(sink.maxInFlight).to.equal(1);
    });

    it('resolves flush() at once when nothing is buffered', async () => {
      const buffer = makeBuffer();
      await buffer.flush();
      expect(sink.attempts).to.deep.equal([]);
    });

    it('passes each delivery seq to the sink with its value', async () => {
      const seen: BatchItem<string>[][] = [];
      const buffer = makeBuffer({ sink: { write: async (batch) => void seen.push(batch) } });
      buffer.add('a', delivery(41));
      buffer.add('b');
      await buffer.flush();
      expect(seen).to.deep.equal([[{ value: 'a', seq: 41 }, { value: 'b' }]]);
    });
  });

  describe('when the sink fails', () => {
    it('keeps the batch at the head and retries it first, in order, while accepting new items', async () => {
      const buffer = makeBuffer({ writeFrequency: 200, maxBatchSize: 10 });
      sink.failNext(new TransientError('connection refused'));
      addAll(buffer, ['a', 'b']);
      await buffer.flush();
      expect(sink.attempts).to.deep.equal([['a', 'b']]);
      expect(buffer.status()).to.include({
        buffered: 2,
        healthy: false,
        lastError: 'connection refused',
        failed: 1,
      });

      addAll(buffer, ['c', 'd'], 3);
      expect(buffer.size).to.equal(4);
      await clock.tickAsync(499); // the first retry waits at least half of initialDelayMs
      expect(sink.attempts).to.have.length(1);

      await clock.tickAsync(501);
      expect(sink.attempts).to.deep.equal([
        ['a', 'b'],
        ['a', 'b', 'c', 'd'],
      ]);
      expect(sink.writtenValues).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(acked).to.deep.equal([1, 2, 3, 4]);
      expect(buffer.status()).to.include({ buffered: 0, healthy: true, written: 4 });
    });

    it('backs off further with every failure in a row', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failNext(new TransientError('down'), new TransientError('down'), new TransientError('down'));
      addAll(buffer, ['a']);
      await buffer.flush();
      await clock.tickAsync(1000 + 2000 + 4000);

      expect(sink.writtenValues).to.deep.equal(['a']);
      const waits = sink.attemptTimes.slice(1).map((time, index) => time - sink.attemptTimes[index]);
      expect(waits).to.have.length(3);
      expect(waits[0]).to.be.within(500, 1000);
      expect(waits[1]).to.be.within(1000, 2000);
      expect(waits[2]).to.be.within(2000, 4000);
    });

    it('retries at once when told the target is back, instead of waiting out the back-off', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failNext(new TransientError('down'), new TransientError('down'), new TransientError('down'));
      addAll(buffer, ['a', 'b']);
      await buffer.flush();
      await clock.tickAsync(1000 + 2000); // two more failures: the next retry is 2-4 s away
      expect(sink.attempts).to.have.length(3);

      buffer.retryNow();
      await clock.tickAsync(0);
      expect(sink.attempts).to.have.length(4);
      expect(acked).to.deep.equal([1, 2]);
      buffer.retryNow(); // nothing pending: no extra write
      await clock.tickAsync(0);
      expect(sink.attempts).to.have.length(4);
    });

    it('waits at least as long as Retry-After asks', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failNext(new TransientError('429 Too Many Requests', 5000));
      addAll(buffer, ['a']);
      await buffer.flush();

      await clock.tickAsync(4999);
      expect(sink.attempts).to.have.length(1);
      await clock.tickAsync(1);
      expect(sink.attempts).to.have.length(2);
      expect(acked).to.deep.equal([1]);
    });

    it('does not write while a retry is pending, even when flushed or full', async () => {
      const buffer = makeBuffer({ writeFrequency: 100, maxBatchSize: 2 });
      sink.failNext(new TransientError('down', 3000));
      addAll(buffer, ['a', 'b']);
      await clock.tickAsync(0);
      addAll(buffer, ['c', 'd', 'e'], 3);
      await buffer.flush();
      await clock.tickAsync(2999);
      expect(sink.attempts).to.deep.equal([['a', 'b']]);

      await clock.tickAsync(1);
      expect(sink.written).to.deep.equal([['a', 'b'], ['c', 'd'], ['e']]);
    });

    it('acks only the written items of a partial write and retries only the rest', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failNext(
        (batch: BatchItem<string>[]) =>
          new PartialWriteError(batch.slice(2), new TransientError('disk full')),
      );
      sink.writeDurationMs = 10;
      addAll(buffer, ['a', 'b', 'c', 'd']);
      const flushed = buffer.flush();
      await clock.tickAsync(5);
      addAll(buffer, ['e'], 5); // arrives while the write runs: it must stay behind c and d
      await clock.tickAsync(5);
      await flushed;

      expect(acked).to.deep.equal([1, 2]);
      expect(buffer.status()).to.include({ buffered: 3, written: 2, healthy: false, lastError: 'disk full' });

      await clock.tickAsync(1000);
      expect(sink.attempts).to.deep.equal([
        ['a', 'b', 'c', 'd'],
        ['c', 'd', 'e'],
      ]);
      expect(acked).to.deep.equal([1, 2, 3, 4, 5]);
      expect(buffer.status().written).to.equal(5);
    });

    it('acks nothing before a successful write', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      const writtenWhenAcked: string[][] = [];
      sink.failNext(new TransientError('down'));
      buffer.add('a', { seq: 1, ack: () => writtenWhenAcked.push(sink.writtenValues) });
      await buffer.flush();
      expect(writtenWhenAcked).to.deep.equal([]);

      await clock.tickAsync(1000);
      expect(writtenWhenAcked).to.deep.equal([['a']]);
    });

    it('keeps and retries a batch refused with PermanentError, and logs it as an error', async () => {
      const logger = stubLogger();
      const buffer = makeBuffer({ writeFrequency: 60000, logger });
      sink.failNext(new PermanentError('field type conflict'));
      addAll(buffer, ['a']);
      await buffer.flush();
      expect(logger.error.callCount).to.equal(1);
      expect(logger.warn.callCount).to.equal(0);
      expect(buffer.size).to.equal(1);

      await clock.tickAsync(1000);
      expect(acked).to.deep.equal([1]);
    });

    it('logs transient failures as warnings', async () => {
      const logger = stubLogger();
      const buffer = makeBuffer({ writeFrequency: 60000, logger });
      sink.failNext(new TransientError('timeout'));
      addAll(buffer, ['a']);
      await buffer.flush();
      expect(logger.warn.callCount).to.equal(1);
      expect(logger.error.callCount).to.equal(0);
    });

    it('keeps acking the others when one ack throws', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      buffer.add('a', {
        seq: 1,
        ack: () => {
          throw new Error('checkpoint failed');
        },
      });
      buffer.add('b', delivery(2));
      await buffer.flush();
      expect(acked).to.deep.equal([2]);
    });
  });

  describe('close()', () => {
    it('writes everything buffered, stops the timer and closes the sink', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000, maxBatchSize: 2 });
      addAll(buffer, ['a', 'b', 'c']);
      await clock.tickAsync(0);
      await buffer.close();

      expect(sink.writtenValues).to.deep.equal(['a', 'b', 'c']);
      expect(acked).to.deep.equal([1, 2, 3]);
      expect(sink.closed).to.equal(true);
      expect(clock.countTimers()).to.equal(0);
    });

    it('waits through a failure and its retry', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failNext(new TransientError('down'));
      addAll(buffer, ['a']);
      let closed = false;
      const closing = buffer.close().then(() => (closed = true));
      await clock.tickAsync(400);
      expect(closed).to.equal(false);

      await clock.tickAsync(600);
      await closing;
      expect(acked).to.deep.equal([1]);
    });

    it('gives up at its deadline when the sink keeps failing, leaving the items unacked', async () => {
      const buffer = makeBuffer({ writeFrequency: 60000 });
      sink.failAlways(new TransientError('down'));
      addAll(buffer, ['a', 'b']);
      const outcome = buffer.close({ timeoutMs: 5000 }).then(
        () => 'resolved',
        (error: unknown) => error,
      );
      await clock.tickAsync(5000);

      expect(await outcome).to.be.instanceOf(BufferCloseTimeoutError);
      expect(acked).to.deep.equal([]);
      expect(buffer.size).to.equal(2);
      const attemptsAtClose = sink.attempts.length;
      await clock.tickAsync(120000);
      expect(sink.attempts).to.have.length(attemptsAtClose);
      expect(clock.countTimers()).to.equal(0);
    });

    it('neither buffers nor acks an item added after close', async () => {
      const buffer = makeBuffer();
      await buffer.close();
      buffer.add('late', delivery(9));
      await clock.tickAsync(5000);
      expect(buffer.size).to.equal(0);
      expect(sink.attempts).to.deep.equal([]);
      expect(acked).to.deep.equal([]);
    });
  });

  describe('status()', () => {
    it('reports buffered, written, failures and the last success time', async () => {
      const buffer = makeBuffer({ id: 'parquet', writeFrequency: 60000 });
      expect(buffer.status()).to.deep.equal({
        id: 'parquet',
        buffered: 0,
        written: 0,
        failed: 0,
        lastError: null,
        lastSuccessAt: null,
        healthy: true,
      });
      sink.failNext(new TransientError('down'));
      addAll(buffer, ['a', 'b']);
      await buffer.flush();
      await clock.tickAsync(1000);

      expect(buffer.status()).to.deep.equal({
        id: 'parquet',
        buffered: 0,
        written: 2,
        failed: 1,
        lastError: 'down',
        lastSuccessAt: new Date(sink.attemptTimes[1]).toISOString(),
        healthy: true,
      });
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

  it('never waits less than the Retry-After of a TransientError', () => {
    expect(retryDelayMs(1, retry, new TransientError('429', 90000), () => 1)).to.equal(90000);
    expect(retryDelayMs(3, retry, new TransientError('429', 10), () => 1)).to.equal(4000);
  });

  it('waits at most an hour for a Retry-After (setTimeout fires after 1 ms beyond 2^31-1 ms)', () => {
    const hour = 60 * 60 * 1000;
    expect(retryDelayMs(1, retry, new TransientError('503', 2 ** 31), () => 1)).to.equal(hour);
    expect(retryDelayMs(1, retry, new TransientError('503', 7 * 24 * hour), () => 0)).to.equal(hour);
  });
});
