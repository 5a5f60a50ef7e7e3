import { expect } from 'chai';
import {
  formatFloat,
  prepareForLineProtocol,
  TAG_BACKSLASH_SUBSTITUTE as FW,
  toCarriableTagText,
  toLineProtocol,
  truncateUtf8,
} from '../../src/lib/audit-destinations/influxdb/line-protocol.js';
import type {
  InfluxFieldValue,
  InfluxPointModel,
} from '../../src/lib/audit-destinations/influxdb/point-model.js';

const LIMITS = { maxStringFieldBytes: 65536 };
const TIMESTAMP_NS = 1_792_915_011_904_000_123n;

function point(
  tags: Record<string, string>,
  fields: Record<string, InfluxFieldValue>,
  measurement = 'audit_event',
): InfluxPointModel {
  return { measurement, tags, fields, timestampNs: TIMESTAMP_NS, eventId: 'e1' };
}

describe('line protocol: substitutions (docs/influxdb.md)', () => {
  describe('in tag values', () => {
    const cases: [string, string, string][] = [
      ['plain text', 'Sales Performance 2026', 'Sales Performance 2026'],
      ['CR, LF and TAB', 'a\nb\r\nc\td', 'a b  c d'],
      ['a trailing backslash', 'ends\\', `ends${FW}`],
      ['a lone backslash', '\\', FW],
      ['a backslash before a space', 'a\\ b', `a${FW} b`],
      ['a backslash before a comma', 'a\\,b', `a${FW},b`],
      ['a backslash before =', 'a\\=b', `a${FW}=b`],
      ['a backslash before a tab (it becomes a space first)', 'a\\\tb', `a${FW} b`],
      ['a backslash before a trailing newline', 'a\\\n', `a${FW} `],
      ['only the last of two trailing backslashes', 'a\\\\', `a\\${FW}`],
      ['a domain\\user backslash', 'CORP\\anna.lindqvist', 'CORP\\anna.lindqvist'],
      ['a double backslash inside', 'a\\\\b', 'a\\\\b'],
      ['quotes and unicode', '"Försäljning" 📈 ＼', '"Försäljning" 📈 ＼'],
    ];
    for (const [name, input, expected] of cases) {
      it(`handles ${name}`, () => expect(toCarriableTagText(input)).to.equal(expected));
    }
  });

  it('replaces CR, LF and TAB in string fields and keeps every backslash and quote', () => {
    const prepared = prepareForLineProtocol(
      point({}, { sheetName: 'line1\r\nline2\tend', objectId: 'a\\ b,c=d\\', appNote: 'say "hi"' }),
      LIMITS,
    );
    expect(prepared.fields).to.deep.equal({
      sheetName: 'line1  line2 end',
      objectId: 'a\\ b,c=d\\',
      appNote: 'say "hi"',
    });
  });

  it('leaves JSON fields as they are: JSON text never holds a raw CR, LF or TAB', () => {
    const selectionDetails = JSON.stringify([{ qField: 'Region', qSelected: 'a\nb\t"c"\\ d' }]);
    const screenshotSavedPaths = JSON.stringify(['C:\\shots\\a b.png', '/tmp/x\ny.png']);
    const prepared = prepareForLineProtocol(point({}, { selectionDetails, screenshotSavedPaths }), LIMITS);
    expect(prepared.fields).to.deep.equal({ selectionDetails, screenshotSavedPaths });
  });

  it('applies the tag rule to tag keys too (static tag names come from the config)', () => {
    const prepared = prepareForLineProtocol(point({ 'site\\': 'x', 'a\tb': 'y' }, { eventId: 'e1' }), LIMITS);
    expect(prepared.tags).to.deep.equal({ [`site${FW}`]: 'x', 'a b': 'y' });
  });

  it('keeps numbers and booleans and drops NaN and Infinity (InfluxDB stores neither)', () => {
    const prepared = prepareForLineProtocol(
      point({}, { durationMs: 4210.5, visible: false, a: NaN, b: Infinity, eventId: 'e1' }),
      LIMITS,
    );
    expect(prepared.fields).to.deep.equal({ durationMs: 4210.5, visible: false, eventId: 'e1' });
  });

  it('returns a new point and leaves the given one untouched', () => {
    const original = point({ user: 'a\\' }, { sheetName: 'a\nb' });
    const copy = structuredClone(original);
    prepareForLineProtocol(original, LIMITS);
    expect(original).to.deep.equal(copy);
  });
});

describe('line protocol: string field size limit', () => {
  const limit = { maxStringFieldBytes: 8 };

  it('cuts a string field to maxStringFieldBytes and names it in truncatedFields', () => {
    const prepared = prepareForLineProtocol(point({}, { objectData: '0123456789', eventId: 'e1' }), limit);
    expect(prepared.fields).to.deep.equal({
      objectData: '01234567',
      eventId: 'e1',
      truncatedFields: 'objectData',
    });
  });

  it('names every cut field, comma-separated, and no other', () => {
    const prepared = prepareForLineProtocol(
      point({}, { objectData: 'x'.repeat(20), sheetName: 'exactly8', selectionDetails: 'y'.repeat(9) }),
      limit,
    );
    expect(prepared.fields.truncatedFields).to.equal('objectData,selectionDetails');
    expect(prepared.fields.sheetName).to.equal('exactly8');
  });

  it('adds no truncatedFields when nothing was cut', () => {
    const prepared = prepareForLineProtocol(point({}, { sheetName: '12345678' }), limit);
    expect(prepared.fields).to.not.have.property('truncatedFields');
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(truncateUtf8('ééééé', 8)).to.equal('éééé');
    expect(truncateUtf8('日本語です', 8)).to.equal('日本');
  });

  it('never splits a multi-byte character or a surrogate pair', () => {
    expect(truncateUtf8('aé', 2)).to.equal('a');
    expect(truncateUtf8('a😀b', 3)).to.equal('a');
    expect(truncateUtf8('a😀b', 4)).to.equal('a');
    expect(truncateUtf8('a😀b', 5)).to.equal('a😀');
    expect(truncateUtf8('😀', 3)).to.equal('');
  });

  it('returns the longest whole-character prefix for any limit (mixed 1- to 4-byte text)', () => {
    const text = 'aé日😀b\\"ü𝄞x'.repeat(3);
    const characters = [...text];
    for (let max = 0; max <= Buffer.byteLength(text) + 1; max++) {
      const cut = truncateUtf8(text, max);
      const kept = [...cut].length;
      expect(characters.slice(0, kept).join(''), `max ${max}`).to.equal(cut);
      expect(Buffer.byteLength(cut)).to.be.at.most(max);
      if (kept < characters.length) {
        expect(Buffer.byteLength(cut + characters[kept]), `max ${max}`).to.be.greaterThan(max);
      }
    }
  });
});

describe('line protocol: formatting', () => {
  it('escapes tag values, quotes string fields, sorts keys and ends with the ns timestamp', () => {
    const line = toLineProtocol(
      point(
        { user: 'CORP\\anna lind, "x"=y', appName: 'Försäljning 2026 📈' },
        { sheetName: 'Say "hi", a=b \\ back\\slash', durationMs: 4210.5, visible: true, eventId: 'e1' },
      ),
      LIMITS,
    );
    expect(line).to.equal(
      'audit_event,appName=Försäljning\\ 2026\\ 📈,user=CORP\\anna\\ lind\\,\\ "x"\\=y ' +
        'durationMs=4210.5,eventId="e1",sheetName="Say \\"hi\\", a=b \\\\ back\\\\slash",visible=true ' +
        '1792915011904000123',
    );
  });

  it('escapes comma and space in the measurement, and comma, = and space in keys', () => {
    const line = toLineProtocol(point({ 'my tag': 'v' }, { 'a=b,c': 1 }, 'audit event,x'), LIMITS);
    expect(line).to.equal('audit\\ event\\,x,my\\ tag=v a\\=b\\,c=1 1792915011904000123');
  });

  it('writes a backslash a tag cannot carry as ＼, then escapes what follows it', () => {
    const line = toLineProtocol(point({ user: 'a\\ b', appName: 'end\\' }, { eventId: 'e1' }), LIMITS);
    expect(line).to.equal(`audit_event,appName=end${FW},user=a${FW}\\ b eventId="e1" 1792915011904000123`);
  });

  it('writes numbers as floats (no `i`) and booleans as true/false', () => {
    const line = toLineProtocol(
      point({}, { durationMs: 30608, dataStateId: 1792915011904, visible: false }),
      LIMITS,
    );
    expect(line).to.equal(
      'audit_event dataStateId=1792915011904,durationMs=30608,visible=false 1792915011904000123',
    );
  });

  it('keeps one line per point: no raw line break survives anywhere', () => {
    const line = toLineProtocol(
      point({ user: 'a\r\nb' }, { sheetName: 'x\ny', objectData: '{"a":"\\n"}', eventId: 'e1' }),
      LIMITS,
    );
    expect(line).to.not.match(/[\r\n]/);
  });

  it('never leaves out a field', () => {
    const fields: Record<string, InfluxFieldValue> = {
      sheetId: 's',
      sheetName: 'n',
      objectId: 'o',
      durationMs: 1.5,
      visible: true,
      enteredAt: '',
      leftAt: 't',
      enterSelectionTxnId: 'a',
      leaveSelectionTxnId: 'b',
      dataStateId: 3,
      selectionDetails: '[]',
      screenshotUrl: 'https://x/y.png',
      screenshotSavedPaths: '[]',
      objectData: '{}',
      eventId: 'e1',
      correlationId: 'c',
      selectionTxnId: 's',
    };
    const line = toLineProtocol(point({ eventType: 't' }, fields), LIMITS);
    const fieldSet = line.split(' ')[1];
    expect(fieldSet.split(',').map((pair) => pair.split('=')[0])).to.have.members(Object.keys(fields));
  });
});

describe('formatFloat', () => {
  const cases: [number, string][] = [
    [30608, '30608'],
    [4210.5, '4210.5'],
    [0, '0'],
    [-0, '0'],
    [-12.25, '-12.25'],
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [-2.5e-8, '-0.000000025'],
    [1e21, '1000000000000000000000'],
    [1.2345e25, '12345000000000000000000000'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
  ];
  for (const [value, expected] of cases) {
    it(`writes ${Object.is(value, -0) ? '-0' : value} as ${expected}`, () =>
      expect(formatFloat(value)).to.equal(expected));
  }

  it('never writes an exponent and always reads back as the same double', () => {
    const values = [Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 1 / 3, 2 ** 60, 123456.789e-20];
    for (let exponent = -30; exponent <= 30; exponent++) values.push(Math.PI * 10 ** exponent);
    for (const value of [...values, ...values.map((v) => -v)]) {
      const text = formatFloat(value);
      expect(text, String(value)).to.match(/^-?\d+(\.\d+)?$/);
      expect(Number(text), text).to.equal(value);
    }
  });

  it('refuses NaN and Infinity', () => {
    for (const value of [NaN, Infinity, -Infinity]) expect(() => formatFloat(value)).to.throw(RangeError);
  });
});
