import { expect } from 'chai';
import { MemoryEventLog } from '../../src/lib/audit-journal/memory-log.js';
import { ServiceUnavailableError } from '../../src/lib/errors.js';
import { freshEnvelope } from '../support/fixtures.js';

const envelope = () => freshEnvelope('navigation.sheet.loaded');

describe('MemoryEventLog', () => {
  it('gives every destination its own cursor over the same entries, in order', async () => {
    const log = new MemoryEventLog(10);
    const parquet = log.openCursor('parquet');
    const influx = log.openCursor('influxdb');
    const sent = [envelope(), envelope(), envelope()];
    for (const item of sent) await log.append(item);
    const fromParquet = await parquet.next(10);
    expect(fromParquet.map((entry) => entry.seq)).to.deep.equal([1, 2, 3]);
    expect(fromParquet.map((entry) => entry.envelope)).to.deep.equal(sent);
    expect((await influx.next(2)).map((entry) => entry.seq)).to.deep.equal([1, 2]);
    expect((await influx.next(2)).map((entry) => entry.seq)).to.deep.equal([3]);
  });

  it('waits for new entries and wakes the reader on append', async () => {
    const log = new MemoryEventLog(10);
    const cursor = log.openCursor('parquet');
    const pending = cursor.next(5);
    await log.append(envelope());
    expect((await pending).map((entry) => entry.seq)).to.deep.equal([1]);
  });

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

  it('keeps the checkpoint at the highest contiguous ack', async () => {
    const log = new MemoryEventLog(10);
    const cursor = log.openCursor('parquet');
    for (let i = 0; i < 4; i += 1) await log.append(envelope());
    await cursor.next(4);
    cursor.ack(2);
    cursor.ack(4);
    expect(cursor.checkpoint).to.equal(0);
    cursor.ack(1);
    expect(cursor.checkpoint).to.equal(2);
    cursor.ack(3);
    expect(cursor.checkpoint).to.equal(4);
    expect(log.backlog()).to.deep.include({ entries: 0, lastSeq: 4, checkpoints: { parquet: 4 } });
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

  it('wakes waiting readers with [] on close and refuses appends after it', async () => {
    const log = new MemoryEventLog(10);
    const pending = log.openCursor('parquet').next(5);
    await log.close();
    expect(await pending).to.deep.equal([]);
    let refused: unknown;
    await log.append(envelope()).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(ServiceUnavailableError);
  });
});
