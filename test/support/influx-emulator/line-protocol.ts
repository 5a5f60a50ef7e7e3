/**
 * Line protocol: splitting a body into lines, reading their timestamps, and the table and
 * column types of a line influxd has already parsed: only what forwarding and InfluxDB 3's
 * column type check need (influxd does the parsing).
 */
import type { WritePrecision } from '../influxd.js';

export interface BodyLine {
  /**
   * 1-based, counting only the lines that hold data, as v3 numbers `line_number`: it enumerates
   * what `parse_lines` yields, and that skips blank and comment lines (influxdb3
   * `influxdb3_write/src/write_buffer/validator.rs` `v1_parse_lines_and_catalog_updates`,
   * `core/influxdb_line_protocol/src/lib.rs` `parse_lines`, `trim_leading`).
   */
  number: number;
  text: string;
}

export interface PreparedLine extends BodyLine {
  precision: WritePrecision;
  hasTimestamp: boolean;
}

export interface LineFailure {
  line: BodyLine;
  message: string;
}

/** Splits a body into its non-blank, non-comment lines the way influxd 1.x does (`models.scanLine`). */
export function splitBodyLines(body: string): BodyLine[] {
  const lines: BodyLine[] = [];
  for (let start = 0; start < body.length;) {
    const end = endOfLine(body, start);
    const text = body.slice(start, end);
    if (!isBlankOrComment(text)) lines.push({ number: lines.length + 1, text });
    start = end + 1;
  }
  return lines;
}

/** Index of the newline ending the line at `start` (or the body's length). */
function endOfLine(body: string, start: number): number {
  return scanLine(body, start).end;
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.replace(/^[ \t]+/, '');
  return trimmed === '' || trimmed.startsWith('#');
}

/** The timestamp section of a line: what follows the unquoted, unescaped space after the fields. */
function timestampOf(line: string): string | undefined {
  const trimmed = line.replace(/^[ \t]+/, '');
  let sections = 1;
  let lastSeparator = -2;
  for (const index of scanLine(trimmed, 0).spaces) {
    const sameRun = index === lastSeparator + 1; // influxd skips runs of spaces between sections
    lastSeparator = index;
    if (!sameRun && ++sections === 3) return trimmed.slice(index + 1).trim() || undefined;
  }
  return undefined;
}

const [BACKSLASH, SPACE, EQUALS, COMMA, QUOTE, NEWLINE] = [...'\\ =,"\n'].map((char) => char.charCodeAt(0));

/**
 * Walks one line as influxd 1.x's `models.scanLine` does, skipping escaped characters and
 * tracking whether it is inside a quoted string field value (where spaces and newlines do not
 * end anything; a quote opens or closes a value only after a field's `=`). Returns where the
 * line ends (its unquoted newline, or the text's end) and its unquoted spaces.
 */
function scanLine(text: string, start: number): { end: number; spaces: number[] } {
  const spaces: number[] = [];
  let inFields = false;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  let index = start;
  for (; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === BACKSLASH && index + 2 < text.length) index++;
    else if (quoted) {
      if (char === QUOTE && inFields && equals > commas) quoted = false;
    } else if (char === NEWLINE) break;
    else if (char === SPACE) {
      inFields = true;
      spaces.push(index);
    } else if (inFields && char === EQUALS) equals++;
    else if (inFields && char === COMMA) commas++;
    else if (inFields && char === QUOTE && equals > commas) quoted = true;
  }
  return { end: index, spaces };
}

/** v3 `precision=auto`: < 5e9 seconds, < 5e12 ms, < 5e15 µs, else ns [notes §1.3, from the v3 OpenAPI]. */
function autoPrecision(timestamp: string | undefined): WritePrecision {
  if (timestamp === undefined || !/^-?\d+$/.test(timestamp)) return 'n';
  const magnitude = BigInt(timestamp.replace('-', ''));
  if (magnitude < 5_000_000_000n) return 's';
  if (magnitude < 5_000_000_000_000n) return 'ms';
  if (magnitude < 5_000_000_000_000_000n) return 'u';
  return 'n';
}

export function prepareLines(lines: BodyLine[], precision: WritePrecision | 'auto'): PreparedLine[] {
  return lines.map((line) => {
    const timestamp = timestampOf(line.text);
    return {
      ...line,
      hasTimestamp: timestamp !== undefined,
      precision: precision === 'auto' ? autoPrecision(timestamp) : precision,
    };
  });
}

/** Consecutive lines of equal precision, so that each run is one influxd request. */
export function runsOfSamePrecision(lines: PreparedLine[]): PreparedLine[][] {
  const runs: PreparedLine[][] = [];
  for (const line of lines) {
    const current = runs.at(-1);
    if (current && current[0].precision === line.precision) current.push(line);
    else runs.push([line]);
  }
  return runs;
}

export function joinLines(lines: BodyLine[]): string {
  return lines.map((line) => line.text).join('\n');
}

/** A column as InfluxDB 3's catalog types it: a tag, or a field of one value type. */
export type ColumnType = 'tag' | 'float' | 'integer' | 'uinteger' | 'string' | 'boolean';

export interface LineColumns {
  table: string;
  /** In the order InfluxDB 3 checks them: the tags, then the fields. */
  columns: { name: string; type: ColumnType }[];
}

/** The table and columns of a line influxd has parsed, so well-formed (`models.ParsePoints` rules). */
export function lineColumns(text: string): LineColumns {
  const line = text.replace(/^[ \t]+/, '');
  const keyEnd = indexOfUnescaped(line, ' ', 0);
  const [measurement, ...tags] = splitUnescaped(line.slice(0, keyEnd), ',');
  const columns: LineColumns['columns'] = tags.map((tag) => ({
    name: unescapeName(tag.slice(0, indexOfUnescaped(tag, '=', 0))),
    type: 'tag',
  }));
  let index = keyEnd;
  while (line[index] === ' ') index++;
  while (index < line.length && line[index] !== ' ') {
    const equals = indexOfUnescaped(line, '=', index);
    const end = endOfFieldValue(line, equals + 1);
    columns.push({
      name: unescapeName(line.slice(index, equals)),
      type: fieldType(line.slice(equals + 1, end)),
    });
    index = line[end] === ',' ? end + 1 : end;
  }
  return { table: unescapeName(measurement), columns };
}

/** Where a field value starting at `start` ends: after its closing quote, or at a comma or space. */
function endOfFieldValue(line: string, start: number): number {
  let index = start;
  if (line.charCodeAt(index) === QUOTE) {
    for (index++; index < line.length && line.charCodeAt(index) !== QUOTE; index++) {
      if (line.charCodeAt(index) === BACKSLASH) index++;
    }
    return index + 1;
  }
  while (index < line.length && line.charCodeAt(index) !== COMMA && line.charCodeAt(index) !== SPACE) index++;
  return index;
}

/** The value types of line protocol: `"..."`, `1i`, `1u`, the boolean spellings, else a float. */
function fieldType(value: string): ColumnType {
  if (value.charCodeAt(0) === QUOTE) return 'string';
  if (/^[-+]?\d+i$/.test(value)) return 'integer';
  if (/^\d+u$/.test(value)) return 'uinteger';
  if (/^(t|T|true|True|TRUE|f|F|false|False|FALSE)$/.test(value)) return 'boolean';
  return 'float';
}

function indexOfUnescaped(text: string, char: string, from: number): number {
  const wanted = char.charCodeAt(0);
  for (let index = from; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === BACKSLASH) index++;
    else if (code === wanted) return index;
  }
  return text.length;
}

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  for (let start = 0; start <= text.length;) {
    const end = indexOfUnescaped(text, separator, start);
    parts.push(text.slice(start, end));
    start = end + 1;
  }
  return parts;
}

/** Measurement, tag and field names as influxd stores them: `\ `, `\,` and `\=` unescaped. */
function unescapeName(name: string): string {
  return name.includes('\\') ? name.replace(/\\([ ,=])/g, '$1') : name;
}
