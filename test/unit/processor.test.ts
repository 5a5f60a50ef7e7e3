import { expect } from 'chai';
import sinon from 'sinon';
import { AuditEventProcessor } from '../../src/lib/audit-events/processor.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { freshEnvelope, loadFixture } from '../support/fixtures.js';

describe('AuditEventProcessor', () => {
  it('runs a handler once per event however many destinations read it', async () => {
    const logger = createSilentLogger();
    const warn = sinon.spy(logger, 'warn');
    const processor = new AuditEventProcessor({ maxConcurrent: 2, readers: 2, logger });
    const entry = { seq: 1, envelope: loadFixture('event.unsupported.visualization') };
    const [forParquet, forInflux] = await Promise.all([processor.recordFor(entry), processor.recordFor(entry)]);
    expect(forParquet).to.equal(forInflux); // one record object, built once
    expect(warn.callCount).to.equal(1);
    expect(warn.firstCall.args[1]).to.match(/cannot capture visualization type/);
  });

  it('shares the record of an event without a handler too, and forgets it once every reader took it', async () => {
    const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 2, logger: createSilentLogger() });
    const entry = { seq: 7, envelope: freshEnvelope('object.view.duration') };
    const first = await processor.recordFor(entry);
    expect(await processor.recordFor(entry)).to.equal(first);
    // Both readers took it: a third read (a replay after a restart) builds an equal, new one.
    const again = await processor.recordFor(entry);
    expect(again).to.not.equal(first);
    expect(again).to.deep.equal(first);
  });

  it('builds the record again for a reader far behind, once more events came than it keeps', async () => {
    const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 2, logger: createSilentLogger() });
    const entries = Array.from({ length: 10_001 }, (_, index) => ({
      seq: index + 1,
      envelope: freshEnvelope('object.view.duration'),
    }));
    const ahead = await Promise.all(entries.map((entry) => processor.recordFor(entry)));
    const behindOldest = await processor.recordFor(entries[0]);
    expect(behindOldest).to.not.equal(ahead[0]);
    expect(behindOldest).to.deep.equal(ahead[0]);
    expect(await processor.recordFor(entries[10_000])).to.equal(ahead[10_000]); // the newest is still shared
  });

  it('reduces selection details to qField, qSelectedCount and qSelected', async () => {
    const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 1, logger: createSilentLogger() });
    const record = await processor.recordFor({ seq: 1, envelope: loadFixture('selection.state.changed') });
    expect(JSON.parse(record.selectionDetails ?? '')).to.deep.equal([
      { qField: 'Region', qSelectedCount: 2, qSelected: 'Nordics, Baltics' },
      { qField: 'Year', qSelectedCount: 1, qSelected: '2026' },
    ]);
  });

  it('gives a replayed event the same extras (handlers are idempotent)', async () => {
    const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 1, logger: createSilentLogger() });
    const envelope = freshEnvelope('app.model.validated');
    const first = await processor.recordFor({ seq: 1, envelope });
    const replay = await processor.recordFor({ seq: 1, envelope });
    expect(replay).to.deep.equal(first);
    expect(first.dataStateId).to.be.a('number');
  });
});
