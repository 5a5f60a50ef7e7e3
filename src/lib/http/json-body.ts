/**
 * The request body parser: strict UTF-8, RFC 8259 JSON, no prototype keys, bounded nesting,
 * and only values the destinations can store as sent. Each refusal says exactly what was
 * wrong, so the API can answer 400 with that reason.
 */
import sjson from 'secure-json-parse';
import { errorMessage } from '../errors.js';

/** Deep enough for any real envelope (objectData nests about 6 levels), shallow enough to be cheap. */
const MAX_JSON_NESTING_DEPTH = 64;

/** The body is not acceptable JSON; the message is safe to show to the client. */
export class InvalidJsonBodyError extends Error {
  override readonly name = 'InvalidJsonBodyError';
  /**
   * @param instancePath JSON pointer to the offending value ('' = the whole body).
   * @param logMessage the reason without any of the body's text, for logs (the message may quote it).
   */
  constructor(
    message: string,
    readonly instancePath = '',
    readonly logMessage = message,
  ) {
    super(message);
  }
}

/** V8's parse errors quote the body ("Unexpected token 'h', "hello" is not valid JSON"): the log keeps the position only. */
function malformedJson(error: unknown): InvalidJsonBodyError {
  const message = errorMessage(error);
  const position = / at position \d+/.exec(message)?.[0] ?? '';
  return new InvalidJsonBodyError(`malformed JSON: ${message}`, '', `malformed JSON${position}`);
}

const FORBIDDEN_KEY_MESSAGE = 'Object contains forbidden prototype property';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * True when objects/arrays nest deeper than MAX_JSON_NESTING_DEPTH. One pass over the text with a counter
 * (no recursion), before parsing, so a hostile body never builds a deep structure.
 */
function exceedsNestingDepth(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH)
        index++; // skip the escaped character, which may be a quote
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (++depth > MAX_JSON_NESTING_DEPTH) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Which prototype key made secure-json-parse refuse the text (only called on that error path). */
function forbiddenKeyIn(text: string): string {
  try {
    sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'ignore' });
    return 'constructor.prototype';
  } catch {
    return '__proto__';
  }
}

function parseRefusingPrototypeKeys(text: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (errorMessage(error).startsWith(FORBIDDEN_KEY_MESSAGE)) {
      throw new InvalidJsonBodyError(`body contains the forbidden key '${forbiddenKeyIn(text)}'`);
    }
    throw malformedJson(error);
  }
}

/**
 * JSON can spell values no destination can store as sent: a lone surrogate (`"\ud800"`),
 * which UTF-8 (Parquet, line protocol) would turn into U+FFFD, and a number beyond a double
 * (`1e309`), which JSON.parse makes Infinity and JSON writes back as null. Only an escape in
 * U+D800..U+DFFF, a positive 3-digit exponent or 210 digits in a row (10^210 × 10^99
 * overflows) can bring one, so the parsed body is walked only when the text holds such a thing.
 */
const MAY_HOLD_UNSTORABLE_VALUE = /\\u[dD][89a-fA-F]|[eE]\+?\d{3}|\d{210}/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function pointerSegment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The first value (or key) of the body no destination can store as sent. */
function findUnstorableValue(body: unknown): InvalidJsonBodyError | undefined {
  const pending: Array<[value: unknown, pointer: string]> = [[body, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, pointer] = next;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value))
        return unstorable('a string that is not valid Unicode (lone surrogate)', pointer);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return unstorable('a number beyond the range of a double', pointer);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push([item, `${pointer}/${index}`]));
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        const at = `${pointer}/${pointerSegment(key)}`;
        if (LONE_SURROGATE.test(key))
          return unstorable('a key that is not valid Unicode (lone surrogate)', at);
        pending.push([item, at]);
      }
    }
  }
  return undefined;
}

function unstorable(what: string, pointer: string): InvalidJsonBodyError {
  return new InvalidJsonBodyError(
    `body holds ${what} at '${pointer}', which cannot be stored as sent`,
    pointer,
  );
}

type JsonBodyParser = (bytes: Buffer) => unknown;

/** A parser for request bodies; throws InvalidJsonBodyError with the reason. */
export function createJsonBodyParser(): JsonBodyParser {
  // fatal: invalid bytes are an error, never silently replaced by U+FFFD.
  const decoder = new TextDecoder('utf-8', { fatal: true });

  const decode = (bytes: Buffer): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new InvalidJsonBodyError('body is not valid UTF-8');
    }
  };

  return (bytes) => {
    const text = decode(bytes);
    if (exceedsNestingDepth(text)) {
      throw new InvalidJsonBodyError(`JSON nests deeper than ${MAX_JSON_NESTING_DEPTH} levels`);
    }
    const body = parseRefusingPrototypeKeys(text);
    const problem = MAY_HOLD_UNSTORABLE_VALUE.test(text) ? findUnstorableValue(body) : undefined;
    if (problem) throw problem;
    return body;
  };
}
