/**
 * Line protocol: splitting a body into lines and reading their timestamps, only what
 * forwarding needs (influxd does the parsing).
 */
import type { WritePrecision } from '../influxd.js';

export interface BodyLine {
  /** 1-based, counting every line of the body, as v3 numbers `line_number`. */
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
  for (let start = 0, number = 1; start < body.length; number++) {
    const end = endOfLine(body, start);
    const text = body.slice(start, end);
    if (!isBlankOrComment(text)) lines.push({ number, text });
    start = end + 1;
  }
  return lines;
}

/** Index of the newline ending the line at `start` (or the body's length). */
function endOfLine(body: string, start: number): number {
  for (const { index, char, quoted } of scanCharacters(body, start)) {
    if (char === '\n' && !quoted) return index;
  }
  return body.length;
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
  for (const { index, char, quoted } of scanCharacters(trimmed)) {
    if (char !== ' ' || quoted) continue;
    const sameRun = index === lastSeparator + 1; // influxd skips runs of spaces between sections
    lastSeparator = index;
    if (!sameRun && ++sections === 3) return trimmed.slice(index + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * Walks line protocol as influxd 1.x's `models.scanLine` does, yielding every character that is
 * not escaped, with whether it lies inside a quoted string field value (where spaces and
 * newlines do not end anything). A quote opens or closes a value only after a field's `=`.
 */
function* scanCharacters(
  text: string,
  start = 0,
): Generator<{ index: number; char: string; quoted: boolean }> {
  let inFields = false;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (char === '\\' && index + 2 < text.length) {
      index++;
      continue;
    }
    if (char === ' ' && !quoted) inFields = true;
    if (inFields && !quoted && char === '=') equals++;
    else if (inFields && !quoted && char === ',') commas++;
    else if (inFields && char === '"' && equals > commas) quoted = !quoted;
    yield { index, char, quoted };
  }
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
