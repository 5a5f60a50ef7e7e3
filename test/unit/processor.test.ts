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
    expect(forParquet).to.deep.equal(forInflux);
    expect(warn.callCount).to.equal(1);
    expect(warn.firstCall.args[1]).to.match(/cannot capture visualization type/);
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
