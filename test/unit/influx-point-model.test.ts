import { expect } from 'chai';
import { toAuditRecord } from '../../src/lib/audit-events/record.js';
import {
  auditPointTimestampNs,
  buildAuditInfluxPointModel,
  EVENT_ID_FIELD_WITH_ID_TAGS,
  influxMappingOptions,
  resolveIdTags,
  type InfluxMappingOptions,
} from '../../src/lib/audit-destinations/influxdb/point-model.js';
import { makeAuditRecord } from '../support/audit-records.js';
import { loadFixture } from '../support/fixtures.js';

const MAPPING: InfluxMappingOptions = {
  measurementName: 'audit_event',
  auditEventSchemaVersion: '1',
  staticTags: [],
  idTags: false,
};

const VIEW_EVENT_ID = '3f2b8c1e-7a4d-4e9b-9c21-5d8e0f6a7b10';
const CORRELATION_ID = '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77';
const VIEW_TIMESTAMP_MS = Date.parse('2026-10-14T08:15:42.512Z');

describe('buildAuditInfluxPointModel', () => {
  const viewRecord = () => toAuditRecord(loadFixture('object.view.duration'));

  it('maps an object.view.duration event to the tags and fields of docs/influxdb.md (IDs as fields)', () => {
    const point = buildAuditInfluxPointModel(viewRecord(), MAPPING);
    expect(point).to.deep.equal({
      measurement: 'audit_event',
      tags: {
        eventType: 'object.view.duration',
        auditEventSchemaVersion: '1',
        user: 'UserDirectory=CORP; UserId=anna.lindqvist',
        userDirectory: 'CORP',
        userId: 'anna.lindqvist',
        appId: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
        appName: 'Sales Performance 2026',
      },
      fields: {
        sheetId: 'b7e2d9f4-3c1a-4e8b-a6d5-9f0e1c2b3a4d',
        sheetName: 'Regional overview',
        objectId: 'JpXkTr',
        enteredAt: '2026-10-14T08:15:11.904Z',
        leftAt: '2026-10-14T08:15:42.512Z',
        enterSelectionTxnId: '1a2b3c4d-0000-4000-8000-00000000a001',
        leaveSelectionTxnId: CORRELATION_ID,
        durationMs: 30608,
        visible: false,
        dataStateId: 1792915011904,
        eventId: VIEW_EVENT_ID,
        correlationId: CORRELATION_ID,
        selectionTxnId: CORRELATION_ID,
      },
      timestampNs: BigInt(VIEW_TIMESTAMP_MS) * 1_000_000n + 504_425n,
      eventId: VIEW_EVENT_ID,
    });
  });

  it('with idTags, writes eventId, correlationId and selectionTxnId as tags, and keeps a field with the eventId', () => {
    const point = buildAuditInfluxPointModel(viewRecord(), { ...MAPPING, idTags: true });
    expect(point.tags).to.include({
      eventId: VIEW_EVENT_ID,
      correlationId: CORRELATION_ID,
      selectionTxnId: CORRELATION_ID,
    });
    expect(point.fields).to.not.have.any.keys('eventId', 'correlationId', 'selectionTxnId');
    // InfluxDB 3 refuses a tag and a field of the same name, so the field has its own.
    expect(point.fields[EVENT_ID_FIELD_WITH_ID_TAGS]).to.equal(VIEW_EVENT_ID);
  });

  it('always writes the eventId as a field, even when the event has nothing else', () => {
    const bare = makeAuditRecord({
      eventType: 'event.custom',
      ...Object.fromEntries(
        [
          'correlationId',
          'user',
          'userDirectory',
          'userId',
          'appId',
          'appName',
          'sheetId',
          'sheetName',
          'objectId',
          'objectType',
          'selectionTxnId',
          'durationMs',
          'visible',
          'enteredAt',
          'leftAt',
          'enterSelectionTxnId',
          'leaveSelectionTxnId',
          'dataStateId',
        ].map((key) => [key, null]),
      ),
    });
    for (const idTags of [false, true]) {
      const point = buildAuditInfluxPointModel(bare, { ...MAPPING, idTags });
      expect(Object.values(point.fields), `idTags ${idTags}`).to.deep.equal([bare.eventId]);
    }
  });

  it('keeps numbers as numbers, exactly: a fractional duration stays fractional', () => {
    const point = buildAuditInfluxPointModel(
      makeAuditRecord({ durationMs: 4210.5, dataStateId: 7 }),
      MAPPING,
    );
    expect(point.fields.durationMs).to.equal(4210.5);
    expect(point.fields.dataStateId).to.equal(7);
  });

  it('writes selection details, screenshot URL, saved paths and object data as strings', () => {
    const selection = buildAuditInfluxPointModel(
      toAuditRecord(loadFixture('selection.state.changed'), {
        selectionDetails: [
          { qField: 'Region', qSelectedCount: 2, qSelected: 'Nordics, Baltics', qStateName: '$' },
        ],
      }),
      MAPPING,
    );
    expect(selection.fields.selectionDetails).to.equal(
      '[{"qField":"Region","qSelectedCount":2,"qSelected":"Nordics, Baltics","qStateName":"$"}]',
    );

    const paths = ['/data/shots/a b.png', 'C:\\shots\\b.png'];
    const screenshot = buildAuditInfluxPointModel(
      toAuditRecord(loadFixture('screenshot.url.received'), { screenshot: { savedPaths: paths } }),
      MAPPING,
    );
    expect(screenshot.tags.objectType).to.equal('barchart');
    expect(screenshot.fields.screenshotUrl).to.match(/^https:\/\/qliksense\.corp\.example\//);
    expect(JSON.parse(screenshot.fields.screenshotSavedPaths as string)).to.deep.equal(paths);
    expect(JSON.parse(screenshot.fields.objectData as string)).to.include({ objectType: 'barchart' });
    expect(screenshot.fields.dataStateId).to.equal(1792915020488);
  });

  it('writes `unknown` for an empty event type and leaves out empty tag values', () => {
    const point = buildAuditInfluxPointModel(makeAuditRecord({ eventType: '', appName: '' }), MAPPING);
    expect(point.tags.eventType).to.equal('unknown');
    expect(point.tags).to.not.have.property('appName');
  });

  it('keeps tag values exactly as in the record (line protocol is not its concern)', () => {
    const user = 'CORP\\anna, "the boss" = ü\n';
    const point = buildAuditInfluxPointModel(makeAuditRecord({ user }), MAPPING);
    expect(point.tags.user).to.equal(user);
  });

  it('adds static tags, never empty ones and never over an audit tag or field', () => {
    const point = buildAuditInfluxPointModel(makeAuditRecord(), {
      ...MAPPING,
      staticTags: [
        { name: 'env', value: 'prod' },
        { name: 'site', value: '' },
        { name: 'appName', value: 'overridden' },
        { name: 'sheetName', value: 'would clash with a field' },
      ],
    });
    expect(point.tags.env).to.equal('prod');
    expect(point.tags).to.not.have.property('site');
    expect(point.tags.appName).to.equal('Sales Performance 2026');
    expect(point.tags).to.not.have.property('sheetName');
  });

  it('uses the configured measurement and schema version', () => {
    const point = buildAuditInfluxPointModel(makeAuditRecord(), {
      ...MAPPING,
      measurementName: 'qs_audit',
      auditEventSchemaVersion: '2',
    });
    expect(point.measurement).to.equal('qs_audit');
    expect(point.tags.auditEventSchemaVersion).to.equal('2');
  });
});

describe('auditPointTimestampNs', () => {
  const ms = VIEW_TIMESTAMP_MS;

  it('adds FNV-1a (32-bit, UTF-8 bytes) of the eventId mod 1e6 to the millisecond in ns', () => {
    // FNV-1a test vectors: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968; "é" is C3 A9.
    expect(auditPointTimestampNs(0, '')).to.equal(136_261n);
    expect(auditPointTimestampNs(1, 'a')).to.equal(1_002_220n);
    expect(auditPointTimestampNs(ms, 'foobar')).to.equal(BigInt(ms) * 1_000_000n + 735_720n);
    expect(auditPointTimestampNs(0, 'é')).to.equal(665_217n);
  });

  it('keeps two events of the same millisecond apart, inside that millisecond', () => {
    const first = auditPointTimestampNs(ms, VIEW_EVENT_ID);
    const second = auditPointTimestampNs(ms, 'c9d0e1f2-a3b4-4c5d-8e6f-708192a3b4c5');
    expect(first).to.not.equal(second);
    for (const ns of [first, second]) {
      expect(ns >= BigInt(ms) * 1_000_000n && ns < BigInt(ms + 1) * 1_000_000n).to.equal(true);
    }
  });
});

describe('resolveIdTags', () => {
  it('defaults to fields on v1 and v2 and to tags on v3 (docs/influxdb.md, idTags)', () => {
    expect(resolveIdTags({ version: 1 })).to.equal(false);
    expect(resolveIdTags({ version: 2 })).to.equal(false);
    expect(resolveIdTags({ version: 3 })).to.equal(true);
  });

  it('follows an explicit idTags on every version', () => {
    expect(resolveIdTags({ version: 1, idTags: true })).to.equal(true);
    expect(resolveIdTags({ version: 3, idTags: false })).to.equal(false);
  });
});

describe('influxMappingOptions', () => {
  it('takes the mapping options from the destination.influxdb config, idTags resolved', () => {
    const staticTags = [{ name: 'env', value: 'prod' }];
    const config = {
      host: 'influx',
      port: 8181,
      protocol: 'http',
      version: 3,
      maxBatchSize: 1000,
      writeFrequency: 20000,
      measurementName: 'qs_audit',
      auditEventSchemaVersion: '2',
      staticTags,
      maxBufferedPoints: 100000,
      maxStringFieldBytes: 65536,
    } as const;
    expect(influxMappingOptions({ ...config, staticTags })).to.deep.equal({
      measurementName: 'qs_audit',
      auditEventSchemaVersion: '2',
      staticTags,
      idTags: true,
    });
  });
});
