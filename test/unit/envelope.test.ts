import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { KNOWN_EVENT_TYPES } from '../../src/lib/audit-events/envelope-schemas.js';
import {
  createEnvelopeValidator,
  isAcceptedEventType,
  type ValidationError,
} from '../../src/lib/audit-events/envelope-validator.js';
import { eventTimeMs } from '../../src/lib/audit-events/event-time.js';
import {
  extensionVersionProblem,
  findExtensionVersion,
  SUPPORTED_AUDIT_QS_VERSIONS,
} from '../../src/lib/audit-events/extension-version.js';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

function fixture(type: string): AuditEnvelope {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${type}.json`, 'utf8')) as AuditEnvelope;
}

// Tests break envelopes in ways AuditEnvelope forbids (wrong types, deleted fields).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = any;

/** A fixture with `change` applied; for one-field variations. */
function variant(type: string, change: (envelope: LooseJson) => void): AuditEnvelope {
  const envelope = fixture(type);
  change(envelope);
  return envelope;
}

describe('envelope validation', () => {
  const validator = createEnvelopeValidator();
  const semanticErrors = (envelope: AuditEnvelope, headerVersion?: string): ValidationError[] =>
    validator.checkSemantics(envelope, headerVersion).errors;
  const paths = (errors: ValidationError[]) => errors.map((error) => error.instancePath);

  describe('fixtures', () => {
    for (const file of readdirSync(FIXTURES_DIR).filter((name) => name.endsWith('.json'))) {
      it(`accepts ${file} without changing it`, () => {
        const envelope = fixture(file.replace(/\.json$/, ''));
        const copy = structuredClone(envelope);
        expect(validator.validateEnvelope(envelope)).to.deep.equal([]);
        expect(semanticErrors(envelope)).to.deep.equal([]);
        expect(envelope).to.deep.equal(copy);
      });
    }
  });

  describe('validateEnvelope (400 layer: presence and JSON types)', () => {
    it('refuses a body that is not an object', () => {
      for (const body of [null, [], 'text', 42, true]) {
        expect(validator.validateEnvelope(body)).to.deep.equal([
          { instancePath: '', message: 'must be object' },
        ]);
      }
    });

    it('lists every missing field at once', () => {
      expect(validator.validateEnvelope({})).to.deep.equal(
        ['schemaVersion', 'eventId', 'timestamp', 'type', 'payload'].map((field) => ({
          instancePath: '',
          message: `must have required property '${field}'`,
        })),
      );
    });

    it('never coerces: schemaVersion "1" is a string, not 1', () => {
      const envelope = variant('navigation.sheet.loaded', (e) => (e.schemaVersion = '1'));
      expect(validator.validateEnvelope(envelope)).to.deep.equal([
        { instancePath: '/schemaVersion', message: 'must be integer' },
      ]);
      expect(envelope.schemaVersion).to.equal('1');
    });

    it('refuses schemaVersion 0 and 1.5', () => {
      expect(
        validator.validateEnvelope(variant('navigation.sheet.loaded', (e) => (e.schemaVersion = 0))),
      ).to.deep.equal([{ instancePath: '/schemaVersion', message: 'must be >= 1' }]);
      expect(
        paths(validator.validateEnvelope(variant('navigation.sheet.loaded', (e) => (e.schemaVersion = 1.5)))),
      ).to.deep.equal(['/schemaVersion']);
    });

    it('lists every ill-typed field at once', () => {
      const envelope = variant('object.view.duration', (e) => {
        e.eventId = 7;
        e.correlationId = null;
        e.timestamp = 1792915020488;
        e.type = ['object.view.duration'];
        e.source.version = 4;
        e.payload.context = 'ctx';
        e.payload.event = [];
      });
      expect(paths(validator.validateEnvelope(envelope))).to.deep.equal([
        '/eventId',
        '/correlationId',
        '/timestamp',
        '/type',
        '/source/version',
        '/payload/context',
        '/payload/event',
      ]);
    });

    it('refuses a payload that is not an object and a source that is not an object', () => {
      expect(
        validator.validateEnvelope(variant('navigation.sheet.loaded', (e) => (e.payload = 'p'))),
      ).to.deep.equal([{ instancePath: '/payload', message: 'must be object' }]);
      expect(
        validator.validateEnvelope(variant('navigation.sheet.loaded', (e) => (e.source = 'ext'))),
      ).to.deep.equal([{ instancePath: '/source', message: 'must be object' }]);
    });

    it('accepts unknown extra properties everywhere and keeps them', () => {
      const envelope = variant('screenshot.url.received', (e) => {
        e.future = { nested: true };
        e.source.build = 17;
        e.payload.extra = 'x';
        e.payload.context.tenant = 'corp';
        e.payload.event.crop.zoom = 1.25;
      });
      const copy = structuredClone(envelope);
      expect(validator.validateEnvelope(envelope)).to.deep.equal([]);
      expect(semanticErrors(envelope)).to.deep.equal([]);
      expect(envelope).to.deep.equal(copy);
    });

    it('accepts an envelope without source, correlationId, context or event', () => {
      const envelope = variant('navigation.sheet.loaded', (e) => {
        delete e.source;
        delete e.correlationId;
        e.payload = {};
      });
      expect(validator.validateEnvelope(envelope)).to.deep.equal([]);
      expect(semanticErrors(envelope)).to.deep.equal([]);
    });
  });

  describe('checkSemantics (422 layer)', () => {
    it('lists every violation at once', () => {
      const envelope = variant('selection.state.changed', (e) => {
        e.eventId = 'not-a-uuid';
        e.correlationId = 'c'.repeat(65);
        e.payload.context.appId = 'my-app';
      });
      expect(semanticErrors(envelope)).to.deep.equal([
        { instancePath: '/eventId', message: 'must match format "uuid"' },
        { instancePath: '/correlationId', message: 'must NOT have more than 64 characters' },
        { instancePath: '/payload/context/appId', message: 'must match format "uuid"' },
      ]);
    });

    it('accepts a correlationId of exactly 64 characters', () => {
      expect(
        semanticErrors(variant('navigation.sheet.loaded', (e) => (e.correlationId = 'c'.repeat(64)))),
      ).to.deep.equal([]);
    });

    describe('timestamp', () => {
      const withTimestamp = (timestamp: string) =>
        semanticErrors(variant('navigation.sheet.loaded', (e) => (e.timestamp = timestamp)));

      it('accepts RFC 3339 date-times, offsets and fractions included', () => {
        for (const timestamp of [
          '2026-10-14T08:15:20Z',
          '2026-10-14T10:15:20.123456+02:00',
          '2026-10-14t08:15:20z',
        ]) {
          expect(withTimestamp(timestamp), timestamp).to.deep.equal([]);
        }
      });

      it('accepts a leap second at the end of a UTC day, also written with an offset', () => {
        expect(withTimestamp('2016-12-31T23:59:60Z')).to.deep.equal([]);
        expect(withTimestamp('2016-12-31T23:59:60.5Z')).to.deep.equal([]);
        expect(withTimestamp('2016-12-31T18:59:60-05:00')).to.deep.equal([]);
      });

      it('refuses what is not an RFC 3339 date-time', () => {
        for (const timestamp of [
          '2026-10-14',
          '2026-10-14T08:15:20',
          '14/10/2026 08:15',
          '2026-02-30T08:00:00Z',
          '2016-12-31T12:00:60Z',
          '',
        ]) {
          expect(withTimestamp(timestamp), timestamp).to.deep.equal([
            { instancePath: '/timestamp', message: 'must match format "date-time"' },
          ]);
        }
      });

      it('refuses a time whose UTC date falls outside years 0001..9999 (no YYYYMMDD for it)', () => {
        for (const timestamp of [
          '9999-12-31T23:30:00-01:00',
          '0000-01-01T00:30:00+01:00',
          '0000-06-01T00:00:00Z',
        ]) {
          expect(withTimestamp(timestamp), timestamp).to.deep.equal([
            { instancePath: '/timestamp', message: 'must fall within years 0001..9999 in UTC' },
          ]);
        }
        expect(withTimestamp('9999-12-31T23:59:59.999Z')).to.deep.equal([]);
        expect(withTimestamp('0001-01-01T00:30:00+00:30')).to.deep.equal([]);
      });
    });

    describe('payload.context limits', () => {
      const limits = { appName: 512, sheetName: 512, sheetId: 128, user: 256, userAgent: 1024 };
      for (const [field, limit] of Object.entries(limits)) {
        it(`${field}: ${limit} characters pass, ${limit + 1} do not`, () => {
          expect(
            semanticErrors(
              variant('navigation.sheet.loaded', (e) => (e.payload.context[field] = 'x'.repeat(limit))),
            ),
          ).to.deep.equal([]);
          expect(
            semanticErrors(
              variant('navigation.sheet.loaded', (e) => (e.payload.context[field] = 'x'.repeat(limit + 1))),
            ),
          ).to.deep.equal([
            {
              instancePath: `/payload/context/${field}`,
              message: `must NOT have more than ${limit} characters`,
            },
          ]);
        });
      }

      it('counts characters, not bytes or UTF-16 units', () => {
        expect(
          semanticErrors(
            variant('navigation.sheet.loaded', (e) => (e.payload.context.appName = '📊'.repeat(512))),
          ),
        ).to.deep.equal([]);
      });

      it('refuses context values that are not strings', () => {
        expect(
          paths(semanticErrors(variant('navigation.sheet.loaded', (e) => (e.payload.context.user = 42)))),
        ).to.deep.equal(['/payload/context/user']);
      });
    });

    describe('type', () => {
      it('accepts every known type and any event.<something>', () => {
        for (const type of [...KNOWN_EVENT_TYPES, 'event.custom', 'event.a.b'])
          expect(isAcceptedEventType(type), type).to.equal(true);
      });

      it('refuses unknown types, "event." alone included', () => {
        for (const type of ['foo.bar', 'event.', 'events.custom', 'Selection.state.changed', '']) {
          expect(
            semanticErrors(variant('navigation.sheet.loaded', (e) => (e.type = type))),
            type,
          ).to.deep.equal([
            {
              instancePath: '/type',
              message: `unknown type '${type}': must be a known type or start with 'event.'`,
            },
          ]);
        }
      });
    });

    describe('per-type payload.event schemas', () => {
      const check = (type: string, change: (event: LooseJson) => void) =>
        semanticErrors(variant(type, (e) => change(e.payload.event)));

      it('requires payload.event for types that have a schema', () => {
        expect(
          semanticErrors(variant('selection.state.changed', (e) => delete e.payload.event)),
        ).to.deep.equal([{ instancePath: '/payload', message: "must have required property 'event'" }]);
      });

      it('selection.state.changed: selectionTxnId UUID and details of at most 500 items', () => {
        expect(check('selection.state.changed', (event) => delete event.selectionTxnId)).to.deep.equal([
          { instancePath: '/payload/event', message: "must have required property 'selectionTxnId'" },
        ]);
        expect(check('selection.state.changed', (event) => (event.selectionTxnId = 'txn-1'))).to.deep.equal([
          { instancePath: '/payload/event/selectionTxnId', message: 'must match format "uuid"' },
        ]);
        expect(
          check('selection.state.changed', (event) => (event.details = new Array(500).fill({}))),
        ).to.deep.equal([]);
        expect(
          check('selection.state.changed', (event) => (event.details = new Array(501).fill({}))),
        ).to.deep.equal([
          { instancePath: '/payload/event/details', message: 'must NOT have more than 500 items' },
        ]);
        expect(check('selection.state.changed', (event) => (event.details = {}))).to.deep.equal([
          { instancePath: '/payload/event/details', message: 'must be array' },
        ]);
      });

      it('app.model.validated: dataStateId integer or null, captureScheduled boolean or null', () => {
        expect(
          check('app.model.validated', (event) =>
            Object.assign(event, { dataStateId: null, captureScheduled: null }),
          ),
        ).to.deep.equal([]);
        expect(
          check('app.model.validated', (event) =>
            Object.assign(event, { dataStateId: 1.5, captureScheduled: 'yes' }),
          ),
        ).to.deep.equal([
          { instancePath: '/payload/event/dataStateId', message: 'must be integer,null' },
          { instancePath: '/payload/event/captureScheduled', message: 'must be boolean,null' },
        ]);
      });

      it('screenshot.url.received: URL, objectId and crop', () => {
        expect(
          check('screenshot.url.received', (event) => (event.screenshotUrl = 'not a url')),
        ).to.deep.equal([
          { instancePath: '/payload/event/screenshotUrl', message: 'must match format "uri"' },
        ]);
        expect(
          paths(
            check(
              'screenshot.url.received',
              (event) => (event.screenshotUrl = `https://h/${'a'.repeat(2040)}`),
            ),
          ),
        ).to.deep.equal(['/payload/event/screenshotUrl']);
        expect(check('screenshot.url.received', (event) => (event.objectId = null))).to.deep.equal([]);
        expect(
          paths(check('screenshot.url.received', (event) => (event.objectId = 'o'.repeat(129)))),
        ).to.deep.equal(['/payload/event/objectId']);
      });

      it('screenshot.url.received: crop sizes > 0, every coordinate in 0..32767, fractions allowed', () => {
        const crop = (values: Record<string, unknown>) =>
          check(
            'screenshot.url.received',
            (event) => (event.crop = { top: 0, left: 0, width: 10, height: 10, ...values }),
          );
        expect(crop({ width: 0.5, scrollAreaOffsetY: 32767, renderingOverflow: 12.25 })).to.deep.equal([]);
        expect(crop({ width: 0 })).to.deep.equal([
          { instancePath: '/payload/event/crop/width', message: 'must be > 0' },
        ]);
        expect(crop({ height: -1 })).to.deep.equal([
          { instancePath: '/payload/event/crop/height', message: 'must be > 0' },
        ]);
        expect(crop({ width: 32768 })).to.deep.equal([
          { instancePath: '/payload/event/crop/width', message: 'must be <= 32767' },
        ]);
        expect(crop({ top: 32768, scrollTop: -0.5, left: '4' })).to.deep.equal([
          { instancePath: '/payload/event/crop/top', message: 'must be <= 32767' },
          { instancePath: '/payload/event/crop/left', message: 'must be number' },
          { instancePath: '/payload/event/crop/scrollTop', message: 'must be >= 0' },
        ]);
        expect(check('screenshot.url.received', (event) => (event.crop = { top: 1 }))).to.deep.equal([
          { instancePath: '/payload/event/crop', message: "must have required property 'width'" },
          { instancePath: '/payload/event/crop', message: "must have required property 'height'" },
        ]);
      });

      it('event.unsupported.visualization: vizType 1..64; nullable strings; dataStateId number, string or null', () => {
        expect(
          check('event.unsupported.visualization', (event) =>
            Object.assign(event, { objectId: null, title: null, trigger: null, dataStateId: 'ds-1' }),
          ),
        ).to.deep.equal([]);
        expect(
          check('event.unsupported.visualization', (event) =>
            Object.assign(event, { vizType: '', dataStateId: true }),
          ),
        ).to.deep.equal([
          { instancePath: '/payload/event/vizType', message: 'must NOT have fewer than 1 characters' },
          { instancePath: '/payload/event/dataStateId', message: 'must be number,string,null' },
        ]);
        expect(
          paths(check('event.unsupported.visualization', (event) => (event.vizType = 'v'.repeat(65)))),
        ).to.deep.equal(['/payload/event/vizType']);
      });

      it('object.view.duration: duration a number in 0..2^53-1, fractions allowed', () => {
        expect(check('object.view.duration', (event) => (event.duration = 0))).to.deep.equal([]);
        expect(check('object.view.duration', (event) => (event.duration = 1234.5))).to.deep.equal([]);
        expect(
          check('object.view.duration', (event) => (event.duration = Number.MAX_SAFE_INTEGER)),
        ).to.deep.equal([]);
        expect(check('object.view.duration', (event) => (event.duration = -1))).to.deep.equal([
          { instancePath: '/payload/event/duration', message: 'must be >= 0' },
        ]);
        expect(
          check('object.view.duration', (event) => (event.duration = Number.MAX_SAFE_INTEGER + 2)),
        ).to.deep.equal([
          { instancePath: '/payload/event/duration', message: 'must be <= 9007199254740991' },
        ]);
        expect(check('object.view.duration', (event) => (event.duration = '30608'))).to.deep.equal([
          { instancePath: '/payload/event/duration', message: 'must be number' },
        ]);
      });

      it('object.view.duration: required fields, date-times and nullable fields', () => {
        expect(
          check('object.view.duration', (event) =>
            ['objectId', 'duration', 'leftAt'].forEach((key) => delete event[key]),
          ),
        ).to.deep.equal(
          ['objectId', 'duration', 'leftAt'].map((key) => ({
            instancePath: '/payload/event',
            message: `must have required property '${key}'`,
          })),
        );
        const nulls = {
          enteredAt: null,
          visible: null,
          selectionTxnId: null,
          enterSelectionTxnId: null,
          leaveSelectionTxnId: null,
          dataStateId: null,
        };
        expect(check('object.view.duration', (event) => Object.assign(event, nulls))).to.deep.equal([]);
        expect(
          paths(
            check('object.view.duration', (event) =>
              Object.assign(event, {
                leftAt: 'later',
                enteredAt: 'earlier',
                objectId: '',
                selectionTxnId: 's'.repeat(65),
              }),
            ),
          ),
        ).to.deep.equal([
          '/payload/event/objectId',
          '/payload/event/leftAt',
          '/payload/event/enteredAt',
          '/payload/event/selectionTxnId',
        ]);
      });

      it('other types need nothing beyond the envelope', () => {
        for (const type of [
          'navigation.sheet.loaded',
          'object.visibility.changed',
          'event.bookmark',
          'event.custom',
        ]) {
          expect(
            semanticErrors(
              variant('navigation.sheet.loaded', (e) => Object.assign(e, { type, payload: {} })),
            ),
            type,
          ).to.deep.equal([]);
        }
      });
    });

    describe('extension version', () => {
      it('supports >=0.1.0 <2.0.0', () => {
        expect(SUPPORTED_AUDIT_QS_VERSIONS).to.equal('>=0.1.0 <2.0.0');
        for (const version of ['0.1.0', '0.4.1', '1.99.3'])
          expect(extensionVersionProblem(version), version).to.equal(undefined);
        for (const version of ['0.0.9', '2.0.0', '10.1.0', '1.0', 'latest'])
          expect(extensionVersionProblem(version), version).to.be.a('string');
      });

      it('refuses an out-of-range version from the header, which wins over source.version', () => {
        expect(semanticErrors(fixture('selection.state.changed'), '2.0.0')).to.deep.equal([
          {
            instancePath: '',
            message:
              "incompatible extension version '2.0.0' (from X-Audit-QS-Version header): supported: >=0.1.0 <2.0.0",
          },
        ]);
        expect(
          semanticErrors(
            variant('selection.state.changed', (e) => (e.source.version = '9.9.9')),
            '1.0.0',
          ),
        ).to.deep.equal([]);
      });

      it('refuses an unparseable source.version', () => {
        expect(
          semanticErrors(variant('selection.state.changed', (e) => (e.source.version = 'banana'))),
        ).to.deep.equal([
          {
            instancePath: '/source/version',
            message:
              "incompatible extension version 'banana' (from source.version): not a semantic version; supported: >=0.1.0 <2.0.0",
          },
        ]);
      });

      it('accepts a missing version (the API warns about it)', () => {
        const envelope = variant('selection.state.changed', (e) => delete e.source);
        expect(semanticErrors(envelope)).to.deep.equal([]);
        expect(semanticErrors(envelope, '   ')).to.deep.equal([]);
        expect(findExtensionVersion(envelope, undefined)).to.equal(undefined);
        expect(findExtensionVersion(envelope, ' 1.2.3 ')).to.deep.equal({
          version: '1.2.3',
          from: 'X-Audit-QS-Version header',
        });
      });
    });

    it('lists the semantic, type, per-type and version violations together', () => {
      const envelope = variant('object.view.duration', (e) => {
        e.eventId = 'nope';
        e.payload.event.duration = -5;
        e.source.version = '3.0.0';
      });
      expect(paths(semanticErrors(envelope))).to.deep.equal([
        '/eventId',
        '/payload/event/duration',
        '/source/version',
      ]);
    });
  });
});

describe('eventTimeMs', () => {
  it('parses RFC 3339 timestamps like Date.parse does', () => {
    for (const timestamp of [
      '2026-10-14T08:15:20.488Z',
      '2026-10-14T10:15:20.488+02:00',
      '2026-10-14T03:45:20-04:30',
      '1970-01-01T00:00:00Z',
    ]) {
      expect(eventTimeMs(timestamp), timestamp).to.equal(Date.parse(timestamp));
    }
  });

  it('clamps a leap second to the last millisecond of its minute', () => {
    expect(new Date(eventTimeMs('2016-12-31T23:59:60Z')).toISOString()).to.equal('2016-12-31T23:59:59.999Z');
    expect(new Date(eventTimeMs('2016-12-31T23:59:60.5Z')).toISOString()).to.equal(
      '2016-12-31T23:59:59.999Z',
    );
  });

  it('honours the offset of a leap second', () => {
    expect(new Date(eventTimeMs('2016-12-31T18:59:60-05:00')).toISOString()).to.equal(
      '2016-12-31T23:59:59.999Z',
    );
    expect(new Date(eventTimeMs('2017-01-01T05:29:60.25+05:30')).toISOString()).to.equal(
      '2016-12-31T23:59:59.999Z',
    );
  });

  it('truncates fractions beyond milliseconds and takes every separator ajv-formats takes', () => {
    expect(eventTimeMs('2026-10-14T08:15:20.123987Z')).to.equal(Date.parse('2026-10-14T08:15:20.123Z'));
    expect(eventTimeMs('2026-10-14t08:15:20.1z')).to.equal(Date.parse('2026-10-14T08:15:20.100Z'));
    expect(eventTimeMs('2026-10-14 09:15:20+0100')).to.equal(Date.parse('2026-10-14T08:15:20Z'));
  });

  it('keeps years below 100 as they are', () => {
    expect(new Date(eventTimeMs('0050-03-01T00:00:00Z')).getUTCFullYear()).to.equal(50);
  });

  it('throws on what is not a date-time', () => {
    expect(() => eventTimeMs('yesterday')).to.throw(RangeError);
    expect(() => eventTimeMs('2026-10-14T08:15:20')).to.throw(RangeError);
  });

  it('agrees with the validator on one real fixture', () => {
    expect(eventTimeMs(fixture('object.view.duration').timestamp)).to.equal(
      Date.parse('2026-10-14T08:15:42.512Z'),
    );
  });
});
