import { expect } from 'chai';
import sinon from 'sinon';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import type { LogEntry } from '../../src/lib/audit-journal/event-log.js';
import { AuditEventProcessor, type AuditEventProcessorOptions } from '../../src/lib/delivery/processor.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { freshEnvelope, loadFixture } from '../support/fixtures.js';

/** One entry's record, as a destination's loop gets it. */
async function recordOf(processor: AuditEventProcessor, entry: LogEntry): Promise<AuditRecord> {
  const [built] = await processor.recordsFor([entry]);
  if (!('record' in built)) throw new Error(built.failure);
  return built.record;
}

function processorWith(options: Partial<AuditEventProcessorOptions> = {}): AuditEventProcessor {
  return new AuditEventProcessor({
    maxConcurrent: 1,
    readers: 1,
    maxShared: 10_000,
    logger: createSilentLogger(),
    ...options,
  });
}

describe('AuditEventProcessor', () => {
  it('runs a handler once per event however many destinations read it', async () => {
    const logger = createSilentLogger();
    const warn = sinon.spy(logger, 'warn');
    const processor = processorWith({ maxConcurrent: 2, readers: 2, logger });
    const entry = { seq: 1, envelope: loadFixture('event.unsupported.visualization') };
    const [forParquet, forInflux] = await Promise.all([
      recordOf(processor, entry),
      recordOf(processor, entry),
    ]);
    expect(forParquet).to.equal(forInflux); // one record object, built once
    expect(warn.callCount).to.equal(1);
    expect(warn.firstCall.args[0]).to.match(/cannot capture visualization type/);
  });

  it('shares the record of an event without a handler too, and forgets it once every reader took it', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 2 });
    const entry = { seq: 7, envelope: freshEnvelope('object.view.duration') };
    const first = await recordOf(processor, entry);
    expect(await recordOf(processor, entry)).to.equal(first);
    // Both readers took it: a third read (a replay after a restart) builds an equal, new one.
    const again = await recordOf(processor, entry);
    expect(again).to.not.equal(first);
    expect(again).to.deep.equal(first);
  });

  it('forgets the record of a replayed entry once the destinations it names took it', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 3 });
    const entry = {
      seq: 9,
      envelope: freshEnvelope('object.view.duration'),
      destinations: ['parquet', 'influxdb'],
    };
    const first = await recordOf(processor, entry);
    expect(await recordOf(processor, entry)).to.equal(first);
    // Only the two it names read it: a third read (a replay after a restart) builds a new one.
    const again = await recordOf(processor, entry);
    expect(again).to.not.equal(first);
    expect(again).to.deep.equal(first);
  });

  it('keeps no record of a replayed entry that one destination reads', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 2 });
    const entry = { seq: 3, envelope: freshEnvelope('object.view.duration'), destinations: ['parquet'] };
    const first = await recordOf(processor, entry);
    const again = await recordOf(processor, entry);
    expect(again).to.not.equal(first);
    expect(again).to.deep.equal(first);
  });

  it('builds the record again for a reader far behind, once more events came than it keeps', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 2, maxShared: 10_000 });
    const entries = Array.from({ length: 10_001 }, (_, index) => ({
      seq: index + 1,
      envelope: freshEnvelope('object.view.duration'),
    }));
    const ahead = await Promise.all(entries.map((entry) => recordOf(processor, entry)));
    const behindOldest = await recordOf(processor, entries[0]);
    expect(behindOldest).to.not.equal(ahead[0]);
    expect(behindOldest).to.deep.equal(ahead[0]);
    expect(await recordOf(processor, entries[10_000])).to.equal(ahead[10_000]); // the newest is still shared
  });

  it('reduces selection details to qField, qSelectedCount, qSelected and qStateName', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 1 });
    const envelope = loadFixture('selection.state.changed');
    const details = envelope.payload.event!.details as Array<Record<string, unknown>>;
    details[1] = { ...details[1], qStateName: 'Comparison' }; // an alternate state
    const record = await recordOf(processor, { seq: 1, envelope });
    expect(JSON.parse(record.selectionDetails ?? '')).to.deep.equal([
      { qField: 'Region', qSelectedCount: 2, qSelected: 'Nordics, Baltics', qStateName: '$' },
      { qField: 'Year', qSelectedCount: 1, qSelected: '2026', qStateName: 'Comparison' },
    ]);
  });

  it("takes a loaded sheet's id from the event when the context has none", async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 1 });
    const envelope = loadFixture('navigation.sheet.loaded');
    const sheetId = envelope.payload.context!.sheetId;
    delete envelope.payload.context!.sheetId;
    envelope.payload.event = { ...envelope.payload.event, sheetId };
    expect((await recordOf(processor, { seq: 1, envelope })).sheetId).to.equal(sheetId);
    // The context wins when it has one.
    envelope.payload.context!.sheetId = 'from-context';
    expect((await recordOf(processor, { seq: 2, envelope })).sheetId).to.equal('from-context');
  });

  it('keeps the envelope as JSON text in the record only when asked to', async () => {
    const envelope = loadFixture('object.view.duration');
    const withEnvelope = processorWith({ record: { withEnvelope: true } });
    expect(JSON.parse((await recordOf(withEnvelope, { seq: 1, envelope })).envelope!)).to.deep.equal(
      envelope,
    );
    expect((await recordOf(processorWith(), { seq: 1, envelope })).envelope).to.equal(null);
  });

  it('gives a replayed event the same extras (handlers are idempotent)', async () => {
    const processor = processorWith({ maxConcurrent: 1, readers: 1 });
    const envelope = freshEnvelope('app.model.validated');
    const first = await recordOf(processor, { seq: 1, envelope });
    const replay = await recordOf(processor, { seq: 1, envelope });
    expect(replay).to.deep.equal(first);
    expect(first.dataStateId).to.be.a('number');
  });

  it('gives the reason instead of a record when one cannot be built, and builds the others', async () => {
    const processor = processorWith();
    const good = { seq: 1, envelope: freshEnvelope('object.view.duration') };
    const bad = { seq: 2, envelope: { ...freshEnvelope('object.view.duration'), timestamp: 'yesterday' } };
    const [first, second] = await processor.recordsFor([good, bad]);
    expect('record' in first && first.record.eventId).to.equal(good.envelope.eventId);
    expect(second).to.deep.equal({
      entry: bad,
      failure: "could not build the record: not an RFC 3339 date-time: 'yesterday'",
    });
  });
});
