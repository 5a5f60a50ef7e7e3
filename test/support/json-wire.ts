/**
 * JSON request bodies written byte for byte as a test wants them, including what
 * JSON.stringify cannot write: numbers spelled `1e3` or `-0`, `__proto__` as a key, every
 * character as a `\uXXXX` escape, odd whitespace, a byte order mark, a cut body, bytes that are
 * not UTF-8. Shared by the property tests and their arbitraries.
 */

import fc from 'fast-check';

/** A JSON number written exactly as `text` (`1E+3`, `-0`, `1.0`, `1e309`). */
export class RawNumber {
  constructor(readonly text: string) {}

  [fc.toStringMethod](): string {
    return `RawNumber(${this.text})`;
  }
}

/**
 * A long string, `prefix` then `unit` repeated: rendered whole on the wire, printed short in
 * fast-check's counterexamples (a 200 KB string would bury the report).
 */
export class RepeatedText {
  constructor(
    readonly unit: string,
    readonly times: number,
    readonly prefix = '',
  ) {}

  get text(): string {
    return this.prefix + this.unit.repeat(this.times);
  }

  [fc.toStringMethod](): string {
    return `${JSON.stringify(this.prefix)} + ${JSON.stringify(this.unit)}.repeat(${this.times})`;
  }
}

/**
 * Where the envelope's eventId goes: filled with a fresh UUID each time the case is rendered,
 * so that a case run again (fast-check shrinking, replays) never posts an eventId twice.
 */
export class FreshEventId {
  constructor(readonly spelling: 'lower' | 'upper' | 'urn') {}

  [fc.toStringMethod](): string {
    return `FreshEventId(${this.spelling})`;
  }
}

export type JsonDraft =
  | null
  | boolean
  | string
  | RawNumber
  | RepeatedText
  | FreshEventId
  | JsonDraft[]
  | { [key: string]: JsonDraft };

/** How strings are escaped: as JSON.stringify does, every non-ASCII character, or every character. */
type EscapeStyle = 'plain' | 'non-ascii' | 'all';
/** Whitespace between tokens: none, or every JSON whitespace character (space, tab, CR, LF). */
type WhitespaceStyle = 'compact' | 'spread';

export interface WireStyle {
  escape: EscapeStyle;
  whitespace: WhitespaceStyle;
}

/** Sets an own property, `__proto__` included (plain assignment would set the prototype). */
export function defineOwn(target: Record<string, JsonDraft>, key: string, value: JsonDraft): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isDraftObject(value: unknown): value is Record<string, JsonDraft> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof RawNumber) &&
    !(value instanceof RepeatedText) &&
    !(value instanceof FreshEventId)
  );
}

/** A deep copy that keeps own `__proto__` keys, RawNumber and FreshEventId. */
export function cloneDraft(value: JsonDraft): JsonDraft {
  if (Array.isArray(value)) return value.map(cloneDraft);
  if (!isDraftObject(value)) return value;
  const copy: Record<string, JsonDraft> = {};
  for (const key of Object.keys(value)) defineOwn(copy, key, cloneDraft(value[key]));
  return copy;
}

function escapeUnit(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

function stringLiteral(text: string, escape: EscapeStyle): string {
  if (escape === 'plain') return JSON.stringify(text);
  let out = '"';
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (escape === 'all' || code > 0x7e || code < 0x20) out += escapeUnit(code);
    else if (text[index] === '"' || text[index] === '\\') out += `\\${text[index]}`;
    else out += text[index];
  }
  return `${out}"`;
}

/** JSON whitespace only (RFC 8259): space, tab, LF, CR. */
const SPREAD_WHITESPACE = ' \t\r\n ';

function renderDraft(value: JsonDraft, style: WireStyle, eventId: string): string {
  const gap = style.whitespace === 'spread' ? SPREAD_WHITESPACE : '';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return stringLiteral(value, style.escape);
  if (value instanceof RawNumber) return value.text;
  if (value instanceof RepeatedText) return stringLiteral(value.text, style.escape);
  if (value instanceof FreshEventId) return stringLiteral(spellUuid(eventId, value.spelling), style.escape);
  if (Array.isArray(value)) {
    return `[${gap}${value.map((item) => renderDraft(item, style, eventId)).join(`${gap},${gap}`)}${gap}]`;
  }
  const members = Object.keys(value).map(
    (key) => `${stringLiteral(key, style.escape)}${gap}:${gap}${renderDraft(value[key], style, eventId)}`,
  );
  return `{${gap}${members.join(`${gap},${gap}`)}${gap}}`;
}

function spellUuid(uuid: string, spelling: FreshEventId['spelling']): string {
  if (spelling === 'upper') return uuid.toUpperCase();
  if (spelling === 'urn') return `urn:uuid:${uuid}`;
  return uuid;
}

/** What happens to the body bytes after rendering. */
export type ByteTweak =
  | { kind: 'none' }
  /** A UTF-8 byte order mark in front. */
  | { kind: 'bom' }
  /** The body cut after this fraction of its bytes (at least one byte is kept). */
  | { kind: 'cut'; fraction: number }
  /** Bytes that are not UTF-8 (a lone 0xFF, a cut sequence, an encoded surrogate) at this fraction. */
  | { kind: 'not-utf8'; fraction: number; bytes: number[] };

export function renderBody(draft: JsonDraft, style: WireStyle, tweak: ByteTweak, eventId: string): Buffer {
  const text = Buffer.from(renderDraft(draft, style, eventId), 'utf8');
  switch (tweak.kind) {
    case 'none':
      return text;
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]);
    case 'cut':
      return text.subarray(0, Math.max(1, Math.floor(text.length * tweak.fraction)));
    case 'not-utf8': {
      const at = Math.floor(text.length * tweak.fraction);
      return Buffer.concat([text.subarray(0, at), Buffer.from(tweak.bytes), text.subarray(at)]);
    }
  }
}
