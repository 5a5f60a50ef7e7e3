/**
 * The EventLog contract every log implementation keeps (docs/architecture.md): one cursor per
 * destination over the same entries in order, waiting readers woken by appends and by close,
 * checkpoints at the highest contiguous ack. Run once per implementation.
 */
import { expect } from 'chai';
import type { EventLog } from '../../src/lib/audit-journal/event-log.js';
import { ServiceUnavailableError } from '../../src/lib/errors.js';
import { freshEnvelope } from './fixtures.js';
import { seqsOf } from './log-entries.js';

const envelope = () => freshEnvelope('navigation.sheet.loaded');

/** `open` builds a fresh, empty log whose cursors include 'parquet' and 'influxdb'. */
export function describeEventLogContract(name: string, open: () => Promise<EventLog>): void {
  describe(`${name}: the EventLog contract`, () => {
    it('has an id, which destinations store with the seqs they hold', async () => {
      const log = await open();
      expect(log.id).to.be.a('string').with.length.greaterThan(0);
      await log.close();
    });

    it('gives every destination its own cursor over the same entries, in order', async () => {
      const log = await open();
      const parquet = log.openCursor('parquet');
      const influx = log.openCursor('influxdb');
      const sent = [envelope(), envelope(), envelope()];
      for (const item of sent) await log.append(item);
      const fromParquet = await parquet.next(10);
      expect(seqsOf(fromParquet)).to.deep.equal([1, 2, 3]);
      expect(fromParquet.map((entry) => entry.envelope)).to.deep.equal(sent);
      expect(seqsOf(await influx.next(2))).to.deep.equal([1, 2]);
      expect(seqsOf(await influx.next(2))).to.deep.equal([3]);
      await log.close();
    });

    it('waits for new entries and wakes the reader on append', async () => {
      const log = await open();
      const pending = log.openCursor('parquet').next(5);
      await log.append(envelope());
      expect(seqsOf(await pending)).to.deep.equal([1]);
      await log.close();
    });

    it('keeps the checkpoint at the highest contiguous ack', async () => {
      const log = await open();
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
      expect(log.backlog().checkpoints).to.deep.include({ parquet: 4 });
      await log.close();
    });

    it('wakes waiting readers with [] on close and refuses appends after it', async () => {
      const log = await open();
      const pending = log.openCursor('parquet').next(5);
      await log.close();
      expect(await pending).to.deep.equal([]);
      expect(await log.append(envelope()).catch((error: unknown) => error)).to.be.instanceOf(
        ServiceUnavailableError,
      );
    });
  });
}
