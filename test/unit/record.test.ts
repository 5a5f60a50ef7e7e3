import { expect } from 'chai';
import { parseUserIdentity, toAuditRecord } from '../../src/lib/audit-events/record.js';
import { loadFixture } from '../support/fixtures.js';

describe('toAuditRecord', () => {
  it('maps an object.view.duration envelope field by field', () => {
    const record = toAuditRecord(loadFixture('object.view.duration'));
    expect(record).to.deep.equal({
      timestampMs: Date.parse('2026-10-14T08:15:42.512Z'),
      date: '20261014',
      eventId: '3f2b8c1e-7a4d-4e9b-9c21-5d8e0f6a7b10',
      correlationId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
      eventType: 'object.view.duration',
      user: 'UserDirectory=CORP; UserId=anna.lindqvist',
      userDirectory: 'CORP',
      userId: 'anna.lindqvist',
      appId: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
      appName: 'Sales Performance 2026',
      sheetId: 'b7e2d9f4-3c1a-4e8b-a6d5-9f0e1c2b3a4d',
      sheetName: 'Regional overview',
      objectId: 'JpXkTr',
      objectType: null,
      selectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
      durationMs: 30608,
      visible: false,
      enteredAt: '2026-10-14T08:15:11.904Z',
      leftAt: '2026-10-14T08:15:42.512Z',
      enterSelectionTxnId: '1a2b3c4d-0000-4000-8000-00000000a001',
      leaveSelectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
      dataStateId: 1792915011904,
      selectionDetails: null,
      screenshotUrl: null,
      screenshotSavedPaths: null,
      objectData: null,
      envelope: null,
    });
  });

  it('keeps a fractional duration exactly (each destination applies its own rounding)', () => {
    const envelope = loadFixture('object.view.duration');
    envelope.payload.event = { ...envelope.payload.event, duration: 4210.5 };
    expect(toAuditRecord(envelope).durationMs).to.equal(4210.5);
  });

  it('takes selection details, screenshot paths and dataStateId from the handler extras', () => {
    const selection = toAuditRecord(loadFixture('selection.state.changed'), {
      selectionDetails: [
        { qField: 'Region', qSelectedCount: 2, qSelected: 'Nordics, Baltics', qStateName: '$' },
      ],
    });
    expect(selection.selectionDetails).to.equal(
      '[{"qField":"Region","qSelectedCount":2,"qSelected":"Nordics, Baltics","qStateName":"$"}]',
    );
    const screenshot = toAuditRecord(loadFixture('screenshot.url.received'), {
      screenshot: { savedPaths: ['/data/shots/a.png'] },
    });
    expect(screenshot.screenshotSavedPaths).to.equal('["/data/shots/a.png"]');
    expect(screenshot.objectType).to.equal('barchart');
    expect(JSON.parse(screenshot.objectData ?? 'null').measures[0].values).to.deep.equal([
      '18250.40',
      '6120.75',
    ]);
    const validated = loadFixture('app.model.validated');
    delete validated.payload.event?.dataStateId;
    expect(toAuditRecord(validated, { dataStateId: 42 }).dataStateId).to.equal(42);
  });

  it('stores a dataStateId sent as a string of digits as that integer, and nothing else as one', () => {
    const envelope = loadFixture('event.unsupported.visualization');
    const withDataState = (dataStateId: unknown) =>
      toAuditRecord({
        ...envelope,
        payload: { ...envelope.payload, event: { ...envelope.payload.event, dataStateId } },
      }).dataStateId;
    expect(withDataState('1792915020488')).to.equal(1792915020488);
    expect(withDataState(1792915020488)).to.equal(1792915020488);
    expect(withDataState('12a')).to.equal(null);
    expect(withDataState('-5')).to.equal(null);
    expect(withDataState('99999999999999999')).to.equal(null); // beyond 2^53: no exact integer
    expect(withDataState(null)).to.equal(null);
  });

  it('maps the UTC date, not the local one, on either side of midnight', () => {
    const envelope = loadFixture('navigation.sheet.loaded');
    expect(toAuditRecord({ ...envelope, timestamp: '2026-10-14T23:59:59.999Z' }).date).to.equal('20261014');
    expect(toAuditRecord({ ...envelope, timestamp: '2026-10-15T01:30:00.000+02:00' }).date).to.equal(
      '20261014',
    );
    expect(toAuditRecord({ ...envelope, timestamp: '2026-10-15T00:00:00.000Z' }).date).to.equal('20261015');
  });

  it('drops a duration no destination can hold, instead of storing garbage', () => {
    const envelope = loadFixture('navigation.sheet.loaded');
    for (const duration of [-1, Number.MAX_SAFE_INTEGER + 2, 'long', null]) {
      envelope.payload.event = { duration };
      expect(toAuditRecord(envelope).durationMs, String(duration)).to.equal(null);
    }
  });
});

describe('parseUserIdentity', () => {
  const cases: Array<[string | null, string | null, string | null]> = [
    ['UserDirectory=CORP; UserId=anna.lindqvist', 'CORP', 'anna.lindqvist'],
    ['CORP; UserId=anna', 'CORP', 'anna'],
    ['CORP\\anna.lindqvist', 'CORP', 'anna.lindqvist'],
    ['userdirectory=LAB;userid=bo', 'LAB', 'bo'],
    // Found by test/property/ingest-path.test.ts: `.` did not match a line break, so these gave nulls.
    ['CORP\\anna\nx', 'CORP', 'anna\nx'],
    ['CORP\\\u2028anna', 'CORP', '\u2028anna'],
    ['UserDirectory=CORP; UserId=an\r\nna', 'CORP', 'an\r\nna'],
    ['anna', null, null],
    ['', null, null],
    [null, null, null],
  ];
  for (const [user, userDirectory, userId] of cases) {
    it(`parses ${JSON.stringify(user)}`, () => {
      expect(parseUserIdentity(user)).to.deep.equal({ userDirectory, userId });
    });
  }
});
