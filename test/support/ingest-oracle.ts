/**
 * The test's own oracle for the ingest path: from the exact bytes posted, what the audit API
 * must answer, and for an accepted event what the Parquet row and the InfluxDB point must
 * hold. Written from the documentation (docs/http-api.md, docs/parquet.md, docs/influxdb.md,
 * SPEC 3.1 as the per-type schemas state it) and from standards (RFC 3339, RFC 4122, RFC 3986,
 * SemVer, line protocol), never by calling the module's own validation or conversion code:
 * a test that reused them could not fail when they are wrong.
 */

const BODY_LIMIT_BYTES = 1_048_576;
const MAX_JSON_NESTING = 64;
/** The config the property tests run with (maxStringFieldBytes at its minimum, so cuts happen). */
export const MAX_STRING_FIELD_BYTES = 1024;
const AUDIT_EVENT_SCHEMA_VERSION = '1';

// ---------------------------------------------------------------------------------------
// Small predicates
// ---------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(object: JsonObject, key: string): boolean {
  return Object.hasOwn(object, key);
}

/** JSON Schema `number` as ajv checks it with strictNumbers: finite. */
function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isInteger(value: unknown): value is number {
  return isNumber(value) && value % 1 === 0;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** maxLength counts code points: a surrogate pair is one, a lone surrogate is one. */
function codePoints(text: string): number {
  return [...text].length;
}

/** True when UTF-8 can carry the string: no unpaired surrogate. */
function isWellFormedUnicode(text: string): boolean {
  return Buffer.from(text, 'utf8').toString('utf8') === text;
}

/** RFC 4122 text form, any case, optionally as a URN (what JSON Schema's `uuid` format accepts). */
function isUuid(value: unknown): boolean {
  return isString(value) && /^(?:urn:uuid:)?[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(value);
}

/** RFC 3986 for the URLs the arbitraries make (https, one host, path, query, fragment). */
function isUri(value: string): boolean {
  const pchar = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})";
  const query = `(?:${pchar}|[/?])*`;
  return new RegExp(`^https://[A-Za-z0-9.-]+(?:/${pchar}*)*(?:\\?${query})?(?:#${query})?$`).test(value);
}

/** SemVer 2.0.0 (with the leading `v` node-semver allows) within >=0.1.0 <2.0.0, no pre-release. */
function isSupportedVersion(version: string): boolean {
  const numeric = '(0|[1-9]\\d*)';
  const identifier = '[0-9A-Za-z-]+';
  const match = new RegExp(
    `^v?${numeric}\\.${numeric}\\.${numeric}(-${identifier}(?:\\.${identifier})*)?(\\+${identifier}(?:\\.${identifier})*)?$`,
  ).exec(version);
  if (!match) return false;
  const [, major, minor, , preRelease] = match;
  if (preRelease !== undefined) return false;
  return (major === '0' && Number(minor) >= 1) || major === '1';
}

// ---------------------------------------------------------------------------------------
// Time (RFC 3339)
// ---------------------------------------------------------------------------------------

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysInMonth(year: number, month: number): number {
  return [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** `YYYYMMDD` of the UTC day `days` after 1970-01-01 (H. Hinnant's civil_from_days). */
function civilFromDays(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
}

const MS_PER_DAY = 86_400_000;

/**
 * An RFC 3339 date-time as ms since the epoch, or undefined when it is not one. A leap second
 * is valid only when its UTC time is 23:59:60 (RFC 3339 5.7) and is stored as the last
 * millisecond of its minute (docs/http-api.md); digits beyond milliseconds are dropped.
 */
function rfc3339Ms(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(
      text,
    );
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const [fraction = '', zulu, sign, offsetHours, offsetMinutes] = match.slice(7);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const offset = zulu ? 0 : (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  if (!zulu && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59)) return undefined;
  const localMinuteOfDay = hour * 60 + minute;
  if (second === 60) {
    const utcMinuteOfDay = (((localMinuteOfDay - offset) % 1440) + 1440) % 1440;
    if (utcMinuteOfDay !== 23 * 60 + 59) return undefined;
  }
  const milliseconds = second === 60 ? 999 : Number(fraction.padEnd(3, '0').slice(0, 3));
  const seconds = second === 60 ? 59 : second;
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    (localMinuteOfDay - offset) * 60_000 +
    seconds * 1000 +
    milliseconds
  );
}

function utcDateOf(ms: number): string {
  return civilFromDays(Math.floor(ms / MS_PER_DAY));
}

const FIRST_STORABLE_MS = daysFromCivil(1, 1, 1) * MS_PER_DAY;
const LAST_STORABLE_MS = daysFromCivil(9999, 12, 31) * MS_PER_DAY + MS_PER_DAY - 1;

// ---------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------

/** An error of details.errors: its instancePath, and the property a `required` error names. */
export interface ExpectedProblem {
  path: string;
  property?: string;
}

export type ExpectedAnswer =
  | { status: 202; envelope: JsonObject }
  | {
      status: 400 | 413 | 415 | 422;
      reason: string | RegExp;
      /** For schema refusals: exactly these instancePaths (and the named required properties). */
      problems?: ExpectedProblem[];
      /** For body refusals about one value: the reason names one of these JSON pointers. */
      namesOneOf?: string[];
    };

export interface PostedRequest {
  contentType: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Deepest nesting of objects and arrays in JSON text (strings skipped; the text may be cut). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (const char of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') deepest = Math.max(deepest, ++depth);
    else if (char === '}' || char === ']') depth -= 1;
  }
  return deepest;
}

function pointer(parent: string, key: string | number): string {
  return `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/** Every value of a JSON tree with its pointer, keys included (as the pointer of their value). */
function* walk(value: Json, at = ''): Generator<{ at: string; value: Json; key?: string }> {
  yield { at, value };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* walk(item, pointer(at, index));
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      yield { at: pointer(at, key), value: value[key], key };
      yield* walk(value[key], pointer(at, key));
    }
  }
}

/** `__proto__` anywhere, else an own `constructor` holding an own `prototype` (secure-json-parse's rules). */
function forbiddenKeyIn(body: Json): string | undefined {
  const nodes = [...walk(body)];
  if (nodes.some((node) => node.key === '__proto__')) return '__proto__';
  const hasConstructorPrototype = nodes.some(
    (node) =>
      node.key === 'constructor' &&
      typeof node.value === 'object' &&
      node.value !== null &&
      Object.hasOwn(node.value, 'prototype'),
  );
  return hasConstructorPrototype ? 'constructor.prototype' : undefined;
}

/**
 * Values no destination can store as sent: strings (or keys) with a lone surrogate, which
 * UTF-8 cannot carry, and numbers beyond a double (`1e309` parses as Infinity, written back as
 * null). Such a body is refused (400) with the pointer of the value.
 */
function unstorableValuesIn(body: Json): string[] {
  const found: string[] = [];
  for (const node of walk(body)) {
    if (node.key !== undefined && !isWellFormedUnicode(node.key)) found.push(node.at);
    else if (isString(node.value) && !isWellFormedUnicode(node.value)) found.push(node.at);
    else if (typeof node.value === 'number' && !Number.isFinite(node.value)) found.push(node.at);
  }
  return [...new Set(found)];
}

/** 400: presence and JSON types of the envelope fields (SPEC 3.1 envelope schema). */
function envelopeProblems(body: Json): ExpectedProblem[] {
  if (!isObject(body)) return [{ path: '' }];
  const problems: ExpectedProblem[] = [];
  for (const key of ['schemaVersion', 'eventId', 'timestamp', 'type', 'payload']) {
    if (!has(body, key)) problems.push({ path: '', property: key });
  }
  if (has(body, 'schemaVersion') && !(isInteger(body.schemaVersion) && body.schemaVersion >= 1)) {
    problems.push({ path: '/schemaVersion' });
  }
  for (const key of ['eventId', 'correlationId', 'timestamp', 'type']) {
    if (has(body, key) && !isString(body[key])) problems.push({ path: `/${key}` });
  }
  if (has(body, 'source')) {
    if (!isObject(body.source)) problems.push({ path: '/source' });
    else {
      for (const key of ['kind', 'name', 'version']) {
        if (has(body.source, key) && !isString(body.source[key])) problems.push({ path: `/source/${key}` });
      }
    }
  }
  if (has(body, 'payload')) {
    if (!isObject(body.payload)) problems.push({ path: '/payload' });
    else {
      for (const key of ['context', 'event']) {
        if (has(body.payload, key) && !isObject(body.payload[key]))
          problems.push({ path: `/payload/${key}` });
      }
    }
  }
  return problems;
}

const KNOWN_EVENT_TYPES = [
  'selection.state.changed',
  'selection.transaction.finalized',
  'app.model.validated',
  'screenshot.url.received',
  'event.unsupported.visualization',
  'object.view.duration',
  'object.visibility.changed',
  'navigation.sheet.loaded',
  'event.bookmark',
  'audit.event',
];

/** A known type, or `event.` and at least one more character that is not a line break. */
function isAcceptedType(type: string): boolean {
  return (
    KNOWN_EVENT_TYPES.includes(type) ||
    (type.startsWith('event.') && type.length > 6 && !'\n\r\u2028\u2029'.includes(type[6]))
  );
}

type Rule = (value: Json) => boolean;

const uuid: Rule = (value) => isUuid(value);
const stringUpTo =
  (max: number, min = 0): Rule =>
  (value) =>
    isString(value) && codePoints(value) >= min && codePoints(value) <= max;
const orNull =
  (rule: Rule): Rule =>
  (value) =>
    value === null || rule(value);
const anyString: Rule = isString;
const integer: Rule = isInteger;
const boolean: Rule = (value) => typeof value === 'boolean';
const dateTime: Rule = (value) => isString(value) && rfc3339Ms(value) !== undefined;

interface ObjectRules {
  required: string[];
  properties: Record<string, Rule>;
}

const cropCoordinate: Rule = (value) => isNumber(value) && value >= 0 && value <= 32767;
const cropSize: Rule = (value) => isNumber(value) && value > 0 && value <= 32767;
const CROP_RULES: ObjectRules = {
  required: ['width', 'height'],
  properties: {
    top: cropCoordinate,
    left: cropCoordinate,
    width: cropSize,
    height: cropSize,
    scrollTop: cropCoordinate,
    scrollAreaOffsetY: cropCoordinate,
    renderingOverflow: cropCoordinate,
  },
};

/** SPEC 3.1's per-type payload.event rules (docs/http-api.md, "Per-type payload.event rules"). */
const EVENT_RULES: Record<string, ObjectRules> = {
  'selection.state.changed': {
    required: ['selectionTxnId', 'details'],
    properties: { selectionTxnId: uuid, details: (value) => Array.isArray(value) && value.length <= 500 },
  },
  'app.model.validated': {
    required: ['selectionTxnId'],
    properties: { selectionTxnId: uuid, dataStateId: orNull(integer), captureScheduled: orNull(boolean) },
  },
  'screenshot.url.received': {
    required: ['screenshotUrl', 'selectionTxnId'],
    properties: {
      screenshotUrl: (value) => stringUpTo(2048, 1)(value) && isUri(value as string),
      selectionTxnId: uuid,
      objectId: orNull(stringUpTo(128)),
    },
  },
  'event.unsupported.visualization': {
    required: ['vizType', 'selectionTxnId'],
    properties: {
      vizType: stringUpTo(64, 1),
      selectionTxnId: uuid,
      objectId: orNull(anyString),
      title: orNull(anyString),
      trigger: orNull(anyString),
      dataStateId: (value) => value === null || isNumber(value) || isString(value),
    },
  },
  'object.view.duration': {
    required: ['objectId', 'duration', 'leftAt'],
    properties: {
      objectId: stringUpTo(128, 1),
      duration: (value) => isNumber(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER,
      leftAt: dateTime,
      enteredAt: orNull(dateTime),
      visible: orNull(boolean),
      selectionTxnId: orNull(stringUpTo(64)),
      enterSelectionTxnId: orNull(stringUpTo(64)),
      leaveSelectionTxnId: orNull(stringUpTo(64)),
      dataStateId: orNull(integer),
    },
  },
};

function objectProblems(object: JsonObject, rules: ObjectRules, at: string): ExpectedProblem[] {
  const problems: ExpectedProblem[] = rules.required
    .filter((key) => !has(object, key))
    .map((key) => ({ path: at, property: key }));
  for (const [key, rule] of Object.entries(rules.properties)) {
    if (has(object, key) && !rule(object[key])) problems.push({ path: `${at}/${key}` });
  }
  return problems;
}

const CONTEXT_RULES: ObjectRules = {
  required: [],
  properties: {
    appId: uuid,
    appName: stringUpTo(512),
    sheetName: stringUpTo(512),
    sheetId: stringUpTo(128),
    user: stringUpTo(256),
    userAgent: stringUpTo(1024),
  },
};

/** 422: formats, limits, known type, per-type payload and extension version (docs/http-api.md). */
function semanticProblems(envelope: JsonObject, versionHeader: string | undefined): ExpectedProblem[] {
  const problems: ExpectedProblem[] = [];
  if (!isUuid(envelope.eventId)) problems.push({ path: '/eventId' });
  if (has(envelope, 'correlationId') && codePoints(envelope.correlationId as string) > 64) {
    problems.push({ path: '/correlationId' });
  }
  const time = rfc3339Ms(envelope.timestamp as string);
  if (time === undefined || time < FIRST_STORABLE_MS || time > LAST_STORABLE_MS)
    problems.push({ path: '/timestamp' });
  if (!isAcceptedType(envelope.type as string)) problems.push({ path: '/type' });
  const payload = envelope.payload as JsonObject;
  if (isObject(payload.context))
    problems.push(...objectProblems(payload.context, CONTEXT_RULES, '/payload/context'));
  const type = envelope.type as string;
  const eventRules = Object.hasOwn(EVENT_RULES, type) ? EVENT_RULES[type] : undefined;
  if (eventRules) {
    if (!has(payload, 'event')) problems.push({ path: '/payload', property: 'event' });
    else {
      const event = payload.event as JsonObject;
      problems.push(...objectProblems(event, eventRules, '/payload/event'));
      if (envelope.type === 'screenshot.url.received' && has(event, 'crop')) {
        if (!isObject(event.crop)) problems.push({ path: '/payload/event/crop' });
        else problems.push(...objectProblems(event.crop, CROP_RULES, '/payload/event/crop'));
      }
    }
  }
  // The header wins over source.version; a blank one counts as absent.
  const header = versionHeader?.trim();
  const source = isObject(envelope.source) ? envelope.source : {};
  const fromSource = isString(source.version) ? source.version.trim() : '';
  if (header) {
    if (!isSupportedVersion(header)) problems.push({ path: '' });
  } else if (fromSource !== '' && !isSupportedVersion(fromSource)) {
    problems.push({ path: '/source/version' });
  }
  return problems;
}

/** What the audit API must answer to this exact request. */
export function expectedAnswer(request: PostedRequest): ExpectedAnswer {
  const mediaType = request.contentType.split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json')
    return { status: 415, reason: 'content type must be application/json' };
  if (request.body.length > BODY_LIMIT_BYTES) {
    return { status: 413, reason: `body larger than ${BODY_LIMIT_BYTES} bytes` };
  }
  let text: string;
  try {
    // A leading byte order mark is dropped, as RFC 8259 allows.
    text = new TextDecoder('utf-8', { fatal: true }).decode(request.body);
  } catch {
    return { status: 400, reason: 'body is not valid UTF-8' };
  }
  if (nestingDepth(text) > MAX_JSON_NESTING) {
    return { status: 400, reason: `JSON nests deeper than ${MAX_JSON_NESTING} levels` };
  }
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    return { status: 400, reason: /^malformed JSON: / };
  }
  const forbidden = forbiddenKeyIn(body);
  if (forbidden) return { status: 400, reason: `body contains the forbidden key '${forbidden}'` };
  const unstorable = unstorableValuesIn(body);
  if (unstorable.length > 0) {
    return { status: 400, reason: /lone surrogate|beyond the range of a double/, namesOneOf: unstorable };
  }
  const shapeProblems = envelopeProblems(body);
  if (shapeProblems.length > 0) return { status: 400, reason: 'invalid envelope', problems: shapeProblems };
  const envelope = body as JsonObject;
  const problems = semanticProblems(envelope, request.headers['x-audit-qs-version']);
  if (problems.length > 0) return { status: 422, reason: 'event failed validation', problems };
  return { status: 202, envelope };
}

// ---------------------------------------------------------------------------------------
// What is stored
// ---------------------------------------------------------------------------------------

export interface StaticTagSetting {
  name: string;
  value: string;
}

/** The record fields docs/parquet.md lists, from the accepted envelope as JSON.parse reads it. */
interface StoredValues {
  timestampMs: number;
  eventId: string;
  correlationId: string | null;
  eventType: string;
  user: string | null;
  userDirectory: string | null;
  userId: string | null;
  appId: string | null;
  appName: string | null;
  sheetId: string | null;
  sheetName: string | null;
  objectId: string | null;
  objectType: string | null;
  selectionTxnId: string | null;
  duration: number | null;
  visible: boolean | null;
  enteredAt: string | null;
  leftAt: string | null;
  enterSelectionTxnId: string | null;
  leaveSelectionTxnId: string | null;
  dataStateId: number | null;
  selectionDetails: string | null;
  screenshotUrl: string | null;
  objectData: string | null;
}

function nonEmpty(value: Json | undefined): string | null {
  return isString(value) && value !== '' ? value : null;
}

/** docs/parquet.md: `UserDirectory=X; UserId=Y`, `X; UserId=Y` or `X\Y`; anything else gives nulls. */
function userIdentity(user: string | null): [string | null, string | null] {
  if (user === null) return [null, null];
  const semicolon = user.indexOf(';');
  if (semicolon >= 0 && user.startsWith(' UserId=', semicolon + 1)) {
    const head = user.slice(0, semicolon);
    const directory = head.startsWith('UserDirectory=') ? head.slice('UserDirectory='.length) : head;
    const id = user.slice(semicolon + ' UserId='.length + 1);
    return directory !== '' && id !== '' ? [directory, id] : [null, null];
  }
  const backslash = user.indexOf('\\');
  if (backslash > 0 && backslash < user.length - 1)
    return [user.slice(0, backslash), user.slice(backslash + 1)];
  return [null, null];
}

function storedValues(envelope: JsonObject): StoredValues {
  const payload = envelope.payload as JsonObject;
  const context = isObject(payload.context) ? payload.context : {};
  const event = isObject(payload.event) ? payload.event : {};
  const user = nonEmpty(context.user);
  const [userDirectory, userId] = userIdentity(user);
  const objectData = event.objectData;
  const pick = (item: Json, key: string): Json => (isObject(item) && item[key] != null ? item[key] : null);
  const details = Array.isArray(event.details) ? event.details : [];
  const duration = event.duration;
  return {
    timestampMs: rfc3339Ms(envelope.timestamp as string) as number,
    eventId: envelope.eventId as string,
    correlationId: nonEmpty(envelope.correlationId),
    eventType: envelope.type as string,
    user,
    userDirectory,
    userId,
    appId: nonEmpty(context.appId),
    appName: nonEmpty(context.appName),
    // navigation.sheet.loaded: the event's sheet when the context has none.
    sheetId:
      nonEmpty(context.sheetId) ??
      (envelope.type === 'navigation.sheet.loaded' ? nonEmpty(event.sheetId) : null),
    sheetName: nonEmpty(context.sheetName),
    objectId: nonEmpty(event.objectId),
    objectType:
      nonEmpty(event.objectType) ??
      nonEmpty(event.vizType) ??
      (isObject(objectData) ? nonEmpty(objectData.objectType) : null),
    selectionTxnId: nonEmpty(event.selectionTxnId),
    duration: isNumber(duration) && duration >= 0 && duration <= Number.MAX_SAFE_INTEGER ? duration : null,
    visible: typeof event.visible === 'boolean' ? event.visible : null,
    enteredAt: isString(event.enteredAt) ? event.enteredAt : null,
    leftAt: isString(event.leftAt) ? event.leftAt : null,
    enterSelectionTxnId: nonEmpty(event.enterSelectionTxnId),
    leaveSelectionTxnId: nonEmpty(event.leaveSelectionTxnId),
    // An integer, or a string of up to 16 digits that is a safe integer.
    dataStateId: Number.isSafeInteger(event.dataStateId)
      ? (event.dataStateId as number)
      : isString(event.dataStateId) &&
          /^\d{1,16}$/.test(event.dataStateId) &&
          Number.isSafeInteger(Number(event.dataStateId))
        ? Number(event.dataStateId)
        : null,
    selectionDetails:
      envelope.type === 'selection.state.changed'
        ? JSON.stringify(
            details.map((item) => ({
              qField: pick(item, 'qField'),
              qSelectedCount: pick(item, 'qSelectedCount'),
              qSelected: pick(item, 'qSelected'),
              qStateName: pick(item, 'qStateName'),
            })),
          )
        : null,
    screenshotUrl: nonEmpty(event.screenshotUrl),
    objectData:
      objectData === undefined || objectData === null
        ? null
        : isString(objectData)
          ? objectData
          : JSON.stringify(objectData),
  };
}

const int64 = (value: number | null): bigint | null => (value === null ? null : BigInt(Math.round(value)));

/** The Parquet row of an accepted event, column by column (docs/parquet.md): values as sent. */
export function expectedParquetRow(
  envelope: JsonObject,
  staticTags: StaticTagSetting[],
): Record<string, unknown> {
  const values = storedValues(envelope);
  return {
    timestamp: BigInt(values.timestampMs),
    date: utcDateOf(values.timestampMs),
    eventId: values.eventId,
    correlationId: values.correlationId,
    eventType: values.eventType,
    user: values.user,
    userDirectory: values.userDirectory,
    userId: values.userId,
    appId: values.appId,
    appName: values.appName,
    sheetId: values.sheetId,
    sheetName: values.sheetName,
    objectId: values.objectId,
    objectType: values.objectType,
    selectionTxnId: values.selectionTxnId,
    durationMs: int64(values.duration),
    visible: values.visible,
    enteredAt: values.enteredAt,
    leftAt: values.leftAt,
    enterSelectionTxnId: values.enterSelectionTxnId,
    leaveSelectionTxnId: values.leaveSelectionTxnId,
    dataStateId: int64(values.dataStateId),
    selectionDetails: values.selectionDetails,
    screenshotUrl: values.screenshotUrl,
    screenshotSavedPaths: null,
    objectData: values.objectData,
    // includeEnvelope (default true): the envelope as received, whatever has no column of its own.
    envelope: JSON.stringify(envelope),
    tags:
      staticTags.length === 0
        ? null
        : JSON.stringify(Object.fromEntries(staticTags.map((t) => [t.name, t.value]))),
  };
}

// --- InfluxDB (docs/influxdb.md, "The point" and "Characters line protocol cannot carry") ---

/** CR, LF and TAB become a space. */
function withoutLineBreaks(text: string): string {
  return text.replace(/[\r\n\t]/g, ' ');
}

/** Tags: line breaks as above; a backslash at the end or before space, comma or `=` becomes U+FF3C. */
function carriedTag(text: string): string {
  const chars = [...withoutLineBreaks(text)];
  return chars
    .map((char, index) =>
      char === '\\' && (index === chars.length - 1 || ' ,='.includes(chars[index + 1])) ? '\uff3c' : char,
    )
    .join('');
}

/** The longest prefix of whole characters within `maxBytes` UTF-8 bytes. */
function cutToUtf8Bytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let kept = '';
  for (const char of text) {
    bytes += Buffer.byteLength(char, 'utf8');
    if (bytes > maxBytes) break;
    kept += char;
  }
  return kept;
}

/** 32-bit FNV-1a of the UTF-8 bytes (docs/influxdb.md, "Timestamp"). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** InfluxDB 1.x stores int64 nanoseconds, minus two sentinels at the bottom and one at the top. */
const MIN_INFLUX_NS = -(2n ** 63n) + 2n;
const MAX_INFLUX_NS = 2n ** 63n - 2n;
/**
 * InfluxDB 1.x refuses a point when a key it stores is longer than this: the series key
 * (measurement and escaped tags) followed by `#!~#` and a field name.
 */
const MAX_INFLUX_KEY_BYTES = 65535;
const FIELD_KEY_SEPARATOR = '#!~#';

/** Reserved tag and field names: a static tag never takes one of them. */
const POINT_KEYS = new Set([
  'eventType',
  'auditEventSchemaVersion',
  'user',
  'userDirectory',
  'userId',
  'appId',
  'appName',
  'objectType',
  'eventId',
  'correlationId',
  'selectionTxnId',
  'sheetId',
  'sheetName',
  'objectId',
  'enteredAt',
  'leftAt',
  'enterSelectionTxnId',
  'leaveSelectionTxnId',
  'durationMs',
  'visible',
  'dataStateId',
  'selectionDetails',
  'screenshotUrl',
  'screenshotSavedPaths',
  'objectData',
  'eventIdField',
  'truncatedFields',
]);

export type ExpectedInfluxOutcome =
  | {
      stored: true;
      timeNs: bigint;
      tags: Record<string, string>;
      /** Fields other than truncatedFields. */
      fields: Record<string, string | number | boolean>;
      /** The fields that were cut, in any order. */
      truncatedFields: string[];
    }
  /** InfluxDB really refuses the point: it must be in the dead-letter file with the server's reason. */
  | { stored: false; reason: RegExp };

/** The point of an accepted event on InfluxDB v1 with idTags false (the default there). */
export function expectedInfluxOutcome(
  envelope: JsonObject,
  staticTags: StaticTagSetting[],
): ExpectedInfluxOutcome {
  const values = storedValues(envelope);
  const rawTags: Record<string, string | null> = {
    eventType: values.eventType || 'unknown',
    auditEventSchemaVersion: AUDIT_EVENT_SCHEMA_VERSION,
    user: values.user,
    userDirectory: values.userDirectory,
    userId: values.userId,
    appId: values.appId,
    appName: values.appName,
    objectType: values.objectType,
  };
  for (const tag of staticTags)
    if (!POINT_KEYS.has(tag.name) && tag.value !== '') rawTags[tag.name] = tag.value;
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawTags)) if (value) tags[carriedTag(key)] = carriedTag(value);

  const rawStrings: Record<string, string | null> = {
    sheetId: values.sheetId,
    sheetName: values.sheetName,
    objectId: values.objectId,
    enteredAt: values.enteredAt,
    leftAt: values.leftAt,
    enterSelectionTxnId: values.enterSelectionTxnId,
    leaveSelectionTxnId: values.leaveSelectionTxnId,
    selectionDetails: values.selectionDetails,
    screenshotUrl: values.screenshotUrl,
    objectData: values.objectData,
    eventId: values.eventId,
    correlationId: values.correlationId,
    selectionTxnId: values.selectionTxnId,
  };
  const fields: Record<string, string | number | boolean> = {};
  const truncatedFields: string[] = [];
  for (const [key, value] of Object.entries(rawStrings)) {
    if (value === null) continue;
    const carried = withoutLineBreaks(value);
    fields[key] = cutToUtf8Bytes(carried, MAX_STRING_FIELD_BYTES);
    if (fields[key] !== carried) truncatedFields.push(key);
  }
  // Numbers are floats; a float has no negative zero on the way back.
  if (values.duration !== null) fields.durationMs = values.duration === 0 ? 0 : values.duration;
  if (values.dataStateId !== null) fields.dataStateId = values.dataStateId === 0 ? 0 : values.dataStateId;
  if (values.visible !== null) fields.visible = values.visible;

  const timeNs = BigInt(values.timestampMs) * 1_000_000n + BigInt(fnv1a(values.eventId) % 1_000_000);
  if (timeNs < MIN_INFLUX_NS || timeNs > MAX_INFLUX_NS) {
    return { stored: false, reason: /value out of range|time outside range/ };
  }
  const escapedLength = (text: string) => Buffer.byteLength(text.replace(/[ ,=]/g, '\\$&'), 'utf8');
  const seriesKeyBytes = Object.entries(tags).reduce(
    (total, [key, value]) => total + 2 + escapedLength(key) + escapedLength(value),
    'audit_event'.length,
  );
  const fieldNames = [...Object.keys(fields), ...(truncatedFields.length > 0 ? ['truncatedFields'] : [])];
  const longestFieldName = Math.max(...fieldNames.map((name) => name.length));
  if (seriesKeyBytes + FIELD_KEY_SEPARATOR.length + longestFieldName > MAX_INFLUX_KEY_BYTES) {
    return { stored: false, reason: /max key length exceeded/ };
  }
  return { stored: true, timeNs, tags, fields, truncatedFields };
}
