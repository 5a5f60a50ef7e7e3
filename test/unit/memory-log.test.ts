import { expect } from 'chai';
import { MemoryEventLog } from '../../src/lib/audit-journal/memory-log.js';
import { ServiceUnavailableError } from '../../src/lib/errors.js';
import { describeEventLogContract } from '../support/event-log-contract.js';
import { freshEnvelope } from '../support/fixtures.js';
import { seqsOf } from '../support/log-entries.js';

const envelope = () => freshEnvelope('navigation.sheet.loaded');

describeEventLogContract('MemoryEventLog', async () => new MemoryEventLog(100));

describe('MemoryEventLog', () => {
  it('answers a full log with ServiceUnavailableError and frees room only when every destination acked', async () => {
    const log = new MemoryEventLog(2);
    const parquet = log.openCursor('parquet');
    const influx = log.openCursor('influxdb');
    await log.append(envelope());
    await log.append(envelope());
    let refused: unknown;
    await log.append(envelope()).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(ServiceUnavailableError);
    expect((refused as ServiceUnavailableError).retryAfterSeconds).to.be.greaterThan(0);
    await parquet.next(2);
    await influx.next(2);
    parquet.ack(1);
    expect(log.backlog().entries).to.equal(2);
    influx.ack(1);
    expect(log.backlog().entries).to.equal(1);
    expect(await log.append(envelope())).to.equal(3);
  });

  it('reads the right entries after many have been released and compacted', async () => {
    const log = new MemoryEventLog(5000);
    const cursor = log.openCursor('parquet');
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 1500; i += 1) await log.append(envelope());
      const entries = await cursor.next(1500);
      expect(entries[0].seq).to.equal(round * 1500 + 1);
      expect(entries.at(-1)?.seq).to.equal((round + 1) * 1500);
      for (const entry of entries) cursor.ack(entry.seq);
    }
    expect(log.backlog().entries).to.equal(0);
  });

  it('starts a cursor opened late at the oldest entry still held', async () => {
    const log = new MemoryEventLog(100);
    await log.append(envelope()); // no cursor yet: held for nobody
    const parquet = log.openCursor('parquet');
    expect(parquet.checkpoint).to.equal(1);
    for (let i = 0; i < 3; i += 1) await log.append(envelope());
    expect(seqsOf(await parquet.next(10))).to.deep.equal([2, 3, 4]);
    parquet.ack(2);

    const influx = log.openCursor('influxdb');
    expect(influx.checkpoint).to.equal(2);
    expect(seqsOf(await influx.next(10))).to.deep.equal([3, 4]);
  });

  it('starts a cursor after atLeast, numbering new entries after it, and checkpoints across the jump', async () => {
    const log = new MemoryEventLog(100);
    const influx = log.openCursor('influxdb');
    await log.append(envelope());
    const parquet = log.openCursor('parquet', { atLeast: 50 });
    expect(parquet.checkpoint).to.equal(50);
    expect(log.lastSeq, 'no entry #50 exists to wait for').to.equal(1);
    expect(await log.append(envelope())).to.equal(51);
    expect(seqsOf(await parquet.next(10))).to.deep.equal([51]);
    const fromInflux = await influx.next(10);
    expect(seqsOf(fromInflux)).to.deep.equal([1, 51]);
    for (const entry of fromInflux) influx.ack(entry.seq);
    expect(influx.checkpoint).to.equal(51);
  });

  it('has its own id per instance', () => {
    expect(new MemoryEventLog(1).id).to.not.equal(new MemoryEventLog(1).id);
  });
});
