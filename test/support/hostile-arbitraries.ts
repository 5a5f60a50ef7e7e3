/**
 * fast-check arbitraries of hostile values for the audit API: strings full of line-protocol
 * metacharacters and awkward unicode, numbers at the edges of JSON and of doubles, RFC 3339
 * timestamps at the edges of the calendar, UUIDs, URLs, user names in the forms Qlik Sense
 * sends, nested JSON. Values that must be spelled exactly on the wire (numbers) are RawNumber.
 */
import fc from 'fast-check';
import { defineOwn, RawNumber, RepeatedText, type JsonDraft } from './json-wire.js';

/** Everything line protocol treats specially, alone and in the pairs that confuse escaping. */
const LINE_PROTOCOL_PIECES = [
  ',',
  ' ',
  '=',
  '"',
  "'",
  '\\',
  '\r',
  '\n',
  '\r\n',
  '\t',
  '#',
  '\\ ',
  '\\,',
  '\\=',
  '\\\\',
  '\\"',
  '\\n',
  '\\\t',
] as const;

/** Astral, combining, zero-width, bidi, line-separator and control characters. */
const UNICODE_PIECES = [
  '🎉',
  '𝄞',
  '👩‍👩‍👧',
  '東京',
  'Å',
  'e\u0301',
  '\u200b',
  '\u200c',
  '\u200d',
  '\ufeff',
  '\u202e',
  '\u200f',
  '\u061c',
  'مرحبا',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u00a0',
  '\u3000',
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\uffff',
] as const;

/** Halves of surrogate pairs on their own: JSON can spell them (`"\ud800"`), UTF-8 cannot. */
const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff'] as const;

// Lone surrogates are rare: one in a string makes the whole case a 400, hiding the rest of it.
const piece = fc.oneof(
  { weight: 16, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }) },
  { weight: 14, arbitrary: fc.constantFrom(...LINE_PROTOCOL_PIECES) },
  { weight: 10, arbitrary: fc.constantFrom(...UNICODE_PIECES) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(...LONE_SURROGATES) },
);

/** A short string of hostile pieces; may be empty, may end in a backslash. */
export function hostileText(maxPieces = 8): fc.Arbitrary<string> {
  return fc.array(piece, { maxLength: maxPieces }).map((pieces) => pieces.join(''));
}

/** `text` cut or padded (with `pad`, one code point) to exactly `length` code points. */
function toCodePoints(text: string, length: number, pad: string): string {
  const points = [...text].slice(0, length);
  return points.join('') + pad.repeat(length - points.length);
}

/** Padding of 1, 3 and 4 UTF-8 bytes: at a length limit, the longer ones exceed InfluxDB's field cut. */
const padding = fc.constantFrom('x', '東', '🎉');

/** A hostile string repeated to a large size (kilobytes to a few hundred kilobytes). */
const hugeText: fc.Arbitrary<RepeatedText> = fc
  .tuple(hostileText(6), fc.integer({ min: 100, max: 12000 }))
  .map(([text, times]) => new RepeatedText(text === '' ? 'x' : text, times));

/** `prefix` in front of a string, long or not. */
export function prefixed(prefix: string, text: string | RepeatedText): string | RepeatedText {
  return typeof text === 'string'
    ? prefix + text
    : new RepeatedText(text.unit, text.times, prefix + text.prefix);
}

/** Strings for a field limited to `limit` code points: mostly short, some at, over and far over it. */
export function textUpTo(limit: number): fc.Arbitrary<string | RepeatedText> {
  return fc.oneof(
    { weight: 5, arbitrary: hostileText() },
    {
      weight: 2,
      arbitrary: fc.tuple(hostileText(40), padding).map(([text, pad]) => toCodePoints(text, limit, pad)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(hostileText(40), padding).map(([text, pad]) => toCodePoints(text, limit + 1, pad)),
    },
    { weight: 1, arbitrary: hugeText },
  );
}

/** Strings for an unlimited field: short and hostile, sometimes huge. */
export const anyText: fc.Arbitrary<string | RepeatedText> = fc.oneof(
  { weight: 4, arbitrary: hostileText() },
  { weight: 1, arbitrary: hugeText },
);

/** Numbers at the edges, spelled on the wire exactly as listed. */
const EDGE_NUMBER_TEXTS = [
  '0',
  '-0',
  '0.0',
  '-0.0',
  '1',
  '-1',
  '0.5',
  '2.5',
  '4210.5',
  '0.1',
  '1e3',
  '1E3',
  '1e+3',
  '1.5e2',
  '100e-2',
  '2e0',
  '1.0',
  '1e-7',
  '-1e-7',
  '5e-324',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740991',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '1e309',
  '-1e309',
  `1${'0'.repeat(250)}e99`,
  '32767',
  '32767.5',
  '32768',
  '1792915011904',
] as const;

export const edgeNumber: fc.Arbitrary<RawNumber> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...EDGE_NUMBER_TEXTS) },
    { weight: 1, arbitrary: fc.integer().map(String) },
    {
      weight: 1,
      arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
    },
  )
  .map((text) => new RawNumber(text));

/** A value of each JSON type, for fields that expect another one. */
export const wrongTypeValue: fc.Arbitrary<JsonDraft> = fc.constantFrom<JsonDraft>(
  null,
  true,
  false,
  new RawNumber('0'),
  new RawNumber('1'),
  '',
  '1',
  'true',
  [],
  ['a'],
  {},
  { a: 'b' },
);

// ---------------------------------------------------------------------------------------
// Identifiers, timestamps, URLs, versions, users
// ---------------------------------------------------------------------------------------

/** UUIDs as JSON Schema's `uuid` format accepts them, and near misses it refuses. */
export const uuidText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((uuid) => uuid.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid().map((uuid) => `urn:uuid:${uuid}`) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.uuid(), fc.constantFrom('cut', 'g', 'braces', 'newline', 'space', 'hostile')).map(
      ([uuid, miss]) =>
        ({
          cut: uuid.slice(1),
          g: `g${uuid.slice(1)}`,
          braces: `{${uuid}}`,
          newline: `${uuid}\n`,
          space: ` ${uuid}`,
          hostile: `${uuid.slice(0, 8)},=\\ ${uuid.slice(12)}`,
        })[miss],
    ),
  },
);

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** `+05:30`, `-08:00`, `Z`, ... from signed minutes; offsets of 24 h and more are spelled too. */
function zoneText(offsetMinutes: number | 'Z' | 'z' | ''): string {
  if (typeof offsetMinutes !== 'number') return offsetMinutes;
  const sign = offsetMinutes < 0 || Object.is(offsetMinutes, -0) ? '-' : '+';
  const minutes = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(minutes / 60), 2)}:${pad(minutes % 60, 2)}`;
}

const zone = fc.oneof(
  { weight: 4, arbitrary: fc.constant<'Z'>('Z') },
  { weight: 1, arbitrary: fc.constantFrom<'z' | ''>('z', '') },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.constantFrom(-0, 0, 330, -480, 1439, -1439, 840, 1440, 59, -1),
      fc.integer({ min: -1439, max: 1439 }),
    ),
  },
);

const fraction = fc.constantFrom('', '', '.5', '.512', '.0', '.123456789', '.9999', '.0000000001');
const separator = fc.constantFrom('T', 'T', 't', ' ');

interface DateTimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function formatDateTime(parts: DateTimeParts, sep: string, frac: string, zoneValue: string): string {
  const { year, month, day, hour, minute, second } = parts;
  return (
    `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${sep}` +
    `${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${frac}${zoneValue}`
  );
}

/** A realistic instant (2020..2030) as an RFC 3339 string in any zone and spelling. */
const realisticDateTime = fc
  .tuple(
    fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 11, 31) }),
    zone.filter((value) => value !== ''),
    separator,
    fraction,
  )
  .map(([ms, zoneValue, sep, frac]) => {
    const offset = typeof zoneValue === 'number' ? zoneValue : 0;
    const local = new Date(ms + offset * 60_000);
    return formatDateTime(
      {
        year: local.getUTCFullYear(),
        month: local.getUTCMonth() + 1,
        day: local.getUTCDate(),
        hour: local.getUTCHours(),
        minute: local.getUTCMinutes(),
        second: local.getUTCSeconds(),
      },
      sep,
      frac,
      zoneText(zoneValue),
    );
  });

/** Calendar and clock edges: years 0000/0001/1677/2262/9999, Feb 29, leap seconds, 24:00, 13th months. */
const edgeDateTime = fc
  .record({
    year: fc.constantFrom(0, 1, 1582, 1677, 1969, 1970, 2000, 2016, 2024, 2026, 2100, 2262, 9999),
    month: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(1, 2, 6, 9, 12) },
      { weight: 1, arbitrary: fc.constantFrom(0, 13) },
    ),
    day: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(1, 11, 21, 28, 29, 30, 31) },
      { weight: 1, arbitrary: fc.constantFrom(0, 32) },
    ),
    hour: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, 12, 15, 23) },
      { weight: 1, arbitrary: fc.constant(24) },
    ),
    minute: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, 12, 59) },
      { weight: 1, arbitrary: fc.constant(60) },
    ),
    second: fc.constantFrom(0, 43, 59, 60, 60, 61),
  })
  .chain((parts) => fc.tuple(fc.constant(parts), separator, fraction, zone))
  .map(([parts, sep, frac, zoneValue]) => formatDateTime(parts, sep, frac, zoneText(zoneValue)));

/** The last instants InfluxDB can store (int64 nanoseconds), and the first it cannot. */
const INFLUX_EDGE_DATE_TIMES = [
  '1677-09-21T00:12:43.145Z',
  '1677-09-21T00:12:43.146Z',
  '1677-09-21T00:12:43.144Z',
  '2262-04-11T23:47:16.854Z',
  '2262-04-11T23:47:16.853Z',
  '2262-04-11T23:47:16.855Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00Z',
  '2016-12-31T23:59:60Z',
  '2016-12-31T15:59:60-08:00',
  '2017-01-01T00:59:60+01:00',
  '2015-06-30T23:59:60.5Z',
  '9999-12-31T23:59:60Z',
  '9999-12-31T23:30:00-01:00',
  '0001-01-01T00:30:00+01:00',
];

/** RFC 3339 date-times: realistic, at the calendar's and InfluxDB's edges, and not date-times at all. */
export const dateTimeString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: realisticDateTime },
  { weight: 3, arbitrary: edgeDateTime },
  { weight: 2, arbitrary: fc.constantFrom(...INFLUX_EDGE_DATE_TIMES) },
  { weight: 1, arbitrary: hostileText(3) },
);

const URL_PREFIX = 'https://qliksense.corp.example/tempcontent/6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f/';

/** Each UTF-8 byte of `text` as %XX: always valid in a URI. */
function percentEncoded(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');
}

/** Characters a URI may hold unencoded in a query (RFC 3986 pchar, `/` and `?`). */
const URI_QUERY_SAFE = "abcXYZ019-._~!$&'()*+,;=:@/?";

/** Screenshot URLs: valid ones with awkward but legal queries, and ones JSON Schema's `uri` refuses. */
export const screenshotUrlText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(`${URL_PREFIX}JpXkTr.png?serverNodeId=9d1f`) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(hostileText(4), fc.stringMatching(/^[a-zA-Z0-9\-._~!$&'()*+,;=:@/?]{0,12}$/))
      .map(([text, safe]) => `${URL_PREFIX}obj.png?q=${percentEncoded(text)}&s=${safe}#frag${safe}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}', 'é', '%zz', '#a#', '\n'),
        fc.constantFrom(...URI_QUERY_SAFE),
      )
      .map(([bad, safe]) => `${URL_PREFIX}obj.png?q=${safe}${bad}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 2040, max: 2060 })
      .map((length) => `${URL_PREFIX}${'a'.repeat(length - URL_PREFIX.length)}`),
  },
  { weight: 1, arbitrary: fc.constant('') },
);

/** Extension versions: supported, unsupported, not semver, blank. */
export const extensionVersionText = fc.constantFrom(
  '0.4.1',
  '0.1.0',
  '1.99.99',
  'v1.0.0',
  '1.0.0+build.7',
  ' 0.3.2 ',
  '0.0.9',
  '2.0.0',
  '1.0.0-beta',
  '01.0.0',
  '1.2',
  'nonsense',
  '',
  '   ',
);

/** A user name part: hostile, but free of what would make the documented forms ambiguous. */
const userPart = hostileText(5)
  .map((text) => text.replace(/[;\\]/g, '').replace(/^\s+|\s+$/g, ''))
  .filter((text) => text !== '' && !/^userdirectory=/i.test(text));

/** Free text that does not read as `X; UserId=Y` (however spaced or cased). */
const notSemicolonForm = (text: string) => !/;\s*userid=/i.test(text);

/**
 * `payload.context.user` in the forms Qlik Sense sends (`UserDirectory=X; UserId=Y`,
 * `X; UserId=Y`, `X\Y`) with hostile parts, and free text with no `; UserId=` in it.
 */
export const userText: fc.Arbitrary<string | RepeatedText> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.tuple(userPart, userPart).map(([dir, id]) => `UserDirectory=${dir}; UserId=${id}`),
  },
  { weight: 1, arbitrary: fc.tuple(userPart, userPart).map(([dir, id]) => `${dir}; UserId=${id}`) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(userPart, hostileText(5))
      .map(([dir, id]) => `${dir}\\${id}`)
      .filter(notSemicolonForm),
  },
  { weight: 2, arbitrary: hostileText(6).filter(notSemicolonForm) },
  { weight: 1, arbitrary: fc.constant('CORP\\anna.lindqvist') },
);

// ---------------------------------------------------------------------------------------
// JSON values
// ---------------------------------------------------------------------------------------

/** Keys that name something on Object.prototype, or look like fields the module reads. */
const AWKWARD_KEYS = [
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__proto__x',
  '__defineGetter__',
  'objectType',
  'qField',
  '',
  ' ',
  '$ref',
];

export const jsonKey: fc.Arbitrary<string> = fc
  .oneof({ weight: 3, arbitrary: hostileText(3) }, { weight: 1, arbitrary: fc.constantFrom(...AWKWARD_KEYS) })
  .filter((key) => key !== '__proto__');

function objectFrom(entries: [string, JsonDraft][]): Record<string, JsonDraft> {
  const result: Record<string, JsonDraft> = {};
  for (const [key, value] of entries) defineOwn(result, key, value);
  return result;
}

const jsonScalar: fc.Arbitrary<JsonDraft> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<JsonDraft>(null, true, false) },
  { weight: 2, arbitrary: edgeNumber },
  { weight: 3, arbitrary: hostileText() },
);

/** Any JSON value with hostile strings, keys and numbers, a few levels deep. */
export const hostileJson: fc.Arbitrary<JsonDraft> = fc.letrec<{ value: JsonDraft }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonScalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(jsonKey, tie('value')), { maxLength: 4 }).map(objectFrom),
  ),
})).value;

/** `depth` levels of objects and/or arrays around a leaf: the body parser's nesting limit. */
export const deepJson = fc
  .record({
    depth: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 56, max: 66 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 70 }) },
    ),
    shape: fc.constantFrom('objects', 'arrays', 'alternating'),
    leaf: jsonScalar,
  })
  .map(({ depth, shape, leaf }) => {
    let value: JsonDraft = leaf;
    for (let level = 0; level < depth; level += 1) {
      const asArray = shape === 'arrays' || (shape === 'alternating' && level % 2 === 1);
      value = asArray ? [value] : objectFrom([[`l${level}`, value]]);
    }
    return value;
  });
