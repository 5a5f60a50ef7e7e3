/**
 * Line protocol, in one place for the v1, v2 and v3 writers (docs/influxdb.md): what line
 * protocol cannot carry, the string field size limit, escaping, and the line itself.
 *
 * What cannot be carried, measured on InfluxDB 1.6.7 and documented by InfluxData:
 * - newlines are not supported in tag or field values (a raw one cuts the point in two);
 *   CR, LF and TAB become a space in every tag and string field;
 * - a tag value ending in a backslash is refused (`invalid tag format`), and a backslash
 *   before an escaped space, comma or `=` is read as an escape pair, which splits the line;
 *   such backslashes become `＼` (U+FF3C). Every other backslash is carried as it is: in tags
 *   `\x` is literal, and in string fields `\` is escaped.
 *
 * JSON fields (selectionDetails, objectData, screenshotSavedPaths) get the same rule as every
 * string field, and it changes nothing in them: JSON.stringify escapes control characters, so
 * JSON text never holds a raw CR, LF or TAB. Only an objectData that arrived as a plain string
 * can hold one, and then it is a plain string like any other.
 */
import { TRUNCATED_FIELDS_KEY, type InfluxFieldValue, type InfluxPointModel } from './point-model.js';

export interface LineProtocolOptions {
  /** String fields longer than this many UTF-8 bytes are cut (default 65536). */
  maxStringFieldBytes: number;
}

/** What a backslash that line protocol cannot carry in a tag becomes. */
export const TAG_BACKSLASH_SUBSTITUTE = '\uFF3C';

const LINE_BREAKS_AND_TABS = /[\r\n\t]/g;
const UNCARRIABLE_TAG_BACKSLASH = /\\(?=$|[ ,=])/g;
// One test per value before any replace: most values need nothing, and this runs for every
// tag and field of every point a destination catching up writes.
const HAS_LINE_BREAK_OR_TAB = /[\r\n\t]/;
const HAS_BREAK_TAB_OR_BACKSLASH = /[\r\n\t\\]/;
const HAS_KEY_METACHARACTER = /[,= ]/;
const HAS_QUOTE_OR_BACKSLASH = /["\\]/;
const UTF8_CONTINUATION_MASK = 0xc0;
const UTF8_CONTINUATION_BITS = 0x80;

/** CR, LF and TAB become a space: line protocol has no way to carry them in a value. */
function replaceLineBreaksAndTabs(value: string): string {
  return HAS_LINE_BREAK_OR_TAB.test(value) ? value.replace(LINE_BREAKS_AND_TABS, ' ') : value;
}

/** The tag rule: line breaks and tabs, then the backslashes InfluxDB cannot parse in a tag. */
export function toCarriableTagText(value: string): string {
  if (!HAS_BREAK_TAB_OR_BACKSLASH.test(value)) return value;
  return replaceLineBreaksAndTabs(value).replace(UNCARRIABLE_TAG_BACKSLASH, TAG_BACKSLASH_SUBSTITUTE);
}

/** The longest prefix of `value` within `maxBytes` UTF-8 bytes that ends on a character boundary. */
export function truncateUtf8(value: string, maxBytes: number): string {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: short strings need no counting.
  if (value.length * 3 <= maxBytes || Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  const bytes = Buffer.from(value, 'utf8');
  let end = maxBytes;
  // bytes[end] is the first byte left out: while it continues a character, that character
  // straddles the limit and is left out whole (this also keeps surrogate pairs together).
  while (end > 0 && (bytes[end] & UTF8_CONTINUATION_MASK) === UTF8_CONTINUATION_BITS) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function carriableTags(tags: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    // Line protocol has no empty tag values; the point model never holds one either.
    if (value !== '') result[toCarriableTagText(key)] = toCarriableTagText(value);
  }
  return result;
}

function carriableFields(
  fields: Record<string, InfluxFieldValue>,
  maxStringFieldBytes: number,
): Record<string, InfluxFieldValue> {
  const result: Record<string, InfluxFieldValue> = {};
  const truncated: string[] = [];
  for (const [rawKey, value] of Object.entries(fields)) {
    const key = toCarriableTagText(rawKey);
    if (typeof value === 'number') {
      // InfluxDB stores no NaN or Infinity; the record never holds them, this is a guard.
      if (Number.isFinite(value)) result[key] = value;
    } else if (typeof value === 'string') {
      const carried = replaceLineBreaksAndTabs(value);
      const cut = truncateUtf8(carried, maxStringFieldBytes);
      if (cut !== carried) truncated.push(key);
      result[key] = cut;
    } else {
      result[key] = value;
    }
  }
  if (truncated.length > 0) result[TRUNCATED_FIELDS_KEY] = truncated.join(',');
  return result;
}

/**
 * A new point holding only what line protocol can carry: the substitutions above in
 * every tag and string field, string fields cut to maxStringFieldBytes (named in
 * `truncatedFields`). toLineProtocol() writes a prepared point and escapes it, nothing more.
 */
export function prepareForLineProtocol(
  point: InfluxPointModel,
  options: LineProtocolOptions,
): InfluxPointModel {
  return {
    ...point,
    tags: carriableTags(point.tags),
    fields: carriableFields(point.fields, options.maxStringFieldBytes),
  };
}

/** Measurement names escape comma and space. */
function escapeMeasurement(name: string): string {
  return name.replace(/[, ]/g, '\\$&');
}

/** Tag keys, tag values and field keys escape comma, `=` and space. */
function escapeKeyOrTagValue(text: string): string {
  return HAS_KEY_METACHARACTER.test(text) ? text.replace(/[,= ]/g, '\\$&') : text;
}

/** A string field value: quoted, with `"` and `\` escaped. */
function quoteStringField(value: string): string {
  return HAS_QUOTE_OR_BACKSLASH.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/**
 * A float as plain decimal digits, never in exponent form (`1e-7`, `1e+21`): the shortest
 * digits that read back as the same double, with the point moved. Without an `i` suffix line
 * protocol reads any number as a float, so `30608` is already one.
 */
export function formatFloat(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`line protocol has no float ${value}`);
  const text = String(value);
  const exponentForm = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!exponentForm) return text;
  const [, sign, lead, rest = '', exponent] = exponentForm;
  const digits = lead + rest;
  const pointAt = 1 + Number(exponent);
  if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return `${sign}${digits}${'0'.repeat(pointAt - digits.length)}`;
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}

/** A field value as line protocol writes it: float, integer (`i`), `true`/`false`, or a quoted string. */
function formatFieldValue(value: InfluxFieldValue): string {
  if (typeof value === 'number') return formatFloat(value);
  if (typeof value === 'bigint') return `${value}i`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return quoteStringField(value);
}

/** Entries sorted by key: InfluxData asks for tags sorted by key, and sorted fields make lines reproducible. */
function sortedEntries<T>(record: Record<string, T>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The line of a point already prepared with prepareForLineProtocol. */
function formatPreparedLine(point: InfluxPointModel): string {
  const tags = sortedEntries(point.tags)
    .map(([key, value]) => `,${escapeKeyOrTagValue(key)}=${escapeKeyOrTagValue(value)}`)
    .join('');
  const fields = sortedEntries(point.fields)
    .map(([key, value]) => `${escapeKeyOrTagValue(key)}=${formatFieldValue(value)}`)
    .join(',');
  return `${escapeMeasurement(point.measurement)}${tags} ${fields} ${point.timestampNs.toString()}`;
}

/** Whether a key of the point changes under the tag rule (a static tag name with a tab, say). */
function hasUncarriableKey(point: InfluxPointModel): boolean {
  for (const key in point.tags) if (HAS_BREAK_TAB_OR_BACKSLASH.test(key)) return true;
  for (const key in point.fields) if (HAS_BREAK_TAB_OR_BACKSLASH.test(key)) return true;
  return false;
}

/**
 * One line of line protocol, nanosecond timestamp, for any InfluxDB version: the line of
 * prepareForLineProtocol()'s point, written in one pass without copying the point, since this
 * runs for every point a destination writes (a backlog after an outage is many of them).
 */
export function toLineProtocol(point: InfluxPointModel, options: LineProtocolOptions): string {
  if (hasUncarriableKey(point)) return formatPreparedLine(prepareForLineProtocol(point, options));
  let line = escapeMeasurement(point.measurement);
  for (const key of Object.keys(point.tags).sort()) {
    const value = point.tags[key];
    if (value !== '')
      line += `,${escapeKeyOrTagValue(key)}=${escapeKeyOrTagValue(toCarriableTagText(value))}`;
  }
  const fieldKeys = Object.keys(point.fields).sort();
  const fields: string[] = [];
  let truncated: string[] | undefined;
  /** Fields written that sort before truncatedFields: where it goes, if a field is cut. */
  let sortedBeforeTruncated = 0;
  for (const key of fieldKeys) {
    const value = point.fields[key];
    let text: string;
    if (typeof value === 'string') {
      const carried = replaceLineBreaksAndTabs(value);
      const cut = truncateUtf8(carried, options.maxStringFieldBytes);
      if (cut !== carried) (truncated ??= []).push(key);
      text = quoteStringField(cut);
    } else if (typeof value === 'boolean' || typeof value === 'bigint' || Number.isFinite(value)) {
      text = formatFieldValue(value);
    } else {
      continue; // NaN or Infinity: InfluxDB stores neither (the record never holds them)
    }
    fields.push(`${escapeKeyOrTagValue(key)}=${text}`);
    if (key < TRUNCATED_FIELDS_KEY) sortedBeforeTruncated += 1;
  }
  if (truncated) {
    fields.splice(
      sortedBeforeTruncated,
      0,
      `${TRUNCATED_FIELDS_KEY}=${quoteStringField(truncated.join(','))}`,
    );
  }
  return `${line} ${fields.join(',')} ${point.timestampNs.toString()}`;
}
