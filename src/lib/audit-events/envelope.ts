/**
 * What an Audit.qs envelope must look like (SPEC 3.1), in two layers:
 * - the envelope schema: fields missing or of the wrong JSON type → 400;
 * - the semantic checks: formats, lengths, known types, per-type payloads and the extension
 *   version → 422, every violation listed at once.
 * Validation never coerces, never strips and never fills in defaults: what is stored is what
 * was sent.
 */
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import semver from 'semver';
import type { AuditEnvelope } from './types.js';

export interface ValidationError {
  /** JSON pointer to the offending value ('' = the whole body, or a header). */
  instancePath: string;
  message: string;
}

export const KNOWN_EVENT_TYPES = [
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
] as const;

/** Extension versions this module understands (semver range). */
export const SUPPORTED_AUDIT_QS_VERSIONS = '>=0.1.0 <2.0.0';

/** The header the extension may send its version in; it wins over `source.version`. */
export const AUDIT_QS_VERSION_HEADER = 'x-audit-qs-version';

/** Any `event.<something>` type is accepted besides the known ones (forward compatibility). */
const OPEN_EVENT_TYPE = /^event\..+/;

const MAX_SAFE_DURATION = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------
// Schemas. Extra properties are allowed everywhere (no additionalProperties: false).
// ---------------------------------------------------------------------------------------

const sourceSchema = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
  },
} as const;

/** Field presence and JSON types only: a failure here is a 400. */
const envelopeSchema = {
  type: 'object',
  required: ['schemaVersion', 'eventId', 'timestamp', 'type', 'payload'],
  properties: {
    schemaVersion: { type: 'integer', minimum: 1 },
    eventId: { type: 'string' },
    correlationId: { type: 'string' },
    timestamp: { type: 'string' },
    type: { type: 'string' },
    source: sourceSchema,
    payload: {
      type: 'object',
      properties: {
        context: { type: 'object' },
        event: { type: 'object' },
      },
    },
  },
} as const;

const uuid = { type: 'string', format: 'uuid' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const stringUpTo = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const nullableStringUpTo = (maxLength: number) => ({ type: ['string', 'null'], maxLength }) as const;

/** payload.context: strings with generous limits (upstream's 64 characters dropped real apps). */
const contextSchema = {
  type: 'object',
  properties: {
    appId: uuid,
    appName: stringUpTo(512),
    sheetName: stringUpTo(512),
    sheetId: stringUpTo(128),
    user: stringUpTo(256),
    userAgent: stringUpTo(1024),
  },
} as const;

/** Checks every type shares: a failure here is a 422. */
const semanticSchema = {
  type: 'object',
  properties: {
    eventId: uuid,
    correlationId: stringUpTo(64),
    timestamp: dateTime,
    payload: { type: 'object', properties: { context: contextSchema } },
  },
} as const;

/** A screen coordinate or size in CSS pixels, fractions allowed. */
const cropCoordinate = { type: 'number', minimum: 0, maximum: 32767 } as const;
const cropSize = { type: 'number', exclusiveMinimum: 0, maximum: 32767 } as const;

/** `payload.event` schemas of the SPEC 3.1 table; other types need nothing beyond the envelope. */
const eventSchemasByType: Record<string, SchemaObject> = {
  'selection.state.changed': {
    type: 'object',
    required: ['selectionTxnId', 'details'],
    properties: {
      selectionTxnId: uuid,
      details: { type: 'array', maxItems: 500 },
    },
  },
  'app.model.validated': {
    type: 'object',
    required: ['selectionTxnId'],
    properties: {
      selectionTxnId: uuid,
      dataStateId: { type: ['integer', 'null'] },
      captureScheduled: { type: ['boolean', 'null'] },
    },
  },
  'screenshot.url.received': {
    type: 'object',
    required: ['screenshotUrl', 'selectionTxnId'],
    properties: {
      screenshotUrl: { type: 'string', format: 'uri', minLength: 1, maxLength: 2048 },
      selectionTxnId: uuid,
      objectId: nullableStringUpTo(128),
      crop: {
        type: 'object',
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
      },
    },
  },
  'event.unsupported.visualization': {
    type: 'object',
    required: ['vizType', 'selectionTxnId'],
    properties: {
      vizType: { type: 'string', minLength: 1, maxLength: 64 },
      selectionTxnId: uuid,
      objectId: { type: ['string', 'null'] },
      title: { type: ['string', 'null'] },
      trigger: { type: ['string', 'null'] },
      dataStateId: { type: ['number', 'string', 'null'] },
    },
  },
  'object.view.duration': {
    type: 'object',
    required: ['objectId', 'duration', 'leftAt'],
    properties: {
      objectId: { type: 'string', minLength: 1, maxLength: 128 },
      duration: { type: 'number', minimum: 0, maximum: MAX_SAFE_DURATION },
      leftAt: dateTime,
      enteredAt: { type: ['string', 'null'], format: 'date-time' },
      visible: { type: ['boolean', 'null'] },
      selectionTxnId: nullableStringUpTo(64),
      enterSelectionTxnId: nullableStringUpTo(64),
      leaveSelectionTxnId: nullableStringUpTo(64),
      dataStateId: { type: ['integer', 'null'] },
    },
  },
};

/** Wraps a `payload.event` schema so that error paths start at the envelope root. */
function envelopeWithEvent(eventSchema: SchemaObject): SchemaObject {
  return {
    type: 'object',
    required: ['payload'],
    properties: {
      payload: { type: 'object', required: ['event'], properties: { event: eventSchema } },
    },
  };
}

// ---------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------

export interface EnvelopeValidator {
  /** Presence and JSON types of the envelope fields; empty when the body is an envelope (else 400). */
  validateEnvelope(body: unknown): ValidationError[];
  /** Formats, limits, type, per-type payload and extension version; empty when valid (else 422). */
  checkSemantics(envelope: AuditEnvelope, headerVersion?: string): ValidationError[];
}

function createAjv(): Ajv {
  const ajv = new Ajv({
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: false,
    allErrors: true,
    strict: true,
    // `string or null` and friends read best as type unions.
    allowUnionTypes: true,
  });
  addFormats.default(ajv, ['uuid', 'date-time', 'uri']);
  return ajv;
}

function toValidationErrors(errors: ErrorObject[] | null | undefined): ValidationError[] {
  return (errors ?? []).map((error) => ({
    instancePath: error.instancePath,
    message: error.message ?? 'is invalid',
  }));
}

function runSchema(validate: ValidateFunction, value: unknown): ValidationError[] {
  return validate(value) ? [] : toValidationErrors(validate.errors);
}

export function isAcceptedEventType(type: string): boolean {
  return (KNOWN_EVENT_TYPES as readonly string[]).includes(type) || OPEN_EVENT_TYPE.test(type);
}

function checkEventType(type: string): ValidationError[] {
  if (isAcceptedEventType(type)) return [];
  return [
    { instancePath: '/type', message: `unknown type '${type}': must be a known type or start with 'event.'` },
  ];
}

/** UTC years every destination can name: Parquet file names and `date` are YYYYMMDD. */
const FIRST_STORABLE_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
const LAST_STORABLE_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

/**
 * A valid RFC 3339 time with an offset can still fall outside years 1..9999 in UTC
 * (`9999-12-31T23:30:00-01:00`); its UTC date would have no YYYYMMDD form, so refuse it here
 * rather than accept an event no destination can store.
 */
function checkEventTime(timestamp: string): ValidationError[] {
  let time: number;
  try {
    time = eventTimeMs(timestamp);
  } catch {
    return []; // not RFC 3339: the envelope schema reports it
  }
  if (time >= FIRST_STORABLE_MS && time <= LAST_STORABLE_MS) return [];
  return [{ instancePath: '/timestamp', message: 'must fall within years 0001..9999 in UTC' }];
}

export interface ExtensionVersion {
  version: string;
  /** Where the version came from, for messages. */
  from: 'X-Audit-QS-Version header' | 'source.version';
}

/** The extension's version: the header wins over `source.version`; undefined when neither is sent. */
export function findExtensionVersion(
  envelope: AuditEnvelope,
  headerVersion?: string,
): ExtensionVersion | undefined {
  if (headerVersion !== undefined && headerVersion.trim() !== '') {
    return { version: headerVersion.trim(), from: 'X-Audit-QS-Version header' };
  }
  const sourceVersion = envelope.source?.version;
  if (typeof sourceVersion === 'string' && sourceVersion.trim() !== '') {
    return { version: sourceVersion.trim(), from: 'source.version' };
  }
  return undefined;
}

/** Parsed once: semver.satisfies() would parse the range again on every request. */
const SUPPORTED_RANGE = new semver.Range(SUPPORTED_AUDIT_QS_VERSIONS);

/** Why an extension version is refused, or undefined when it is supported. */
export function extensionVersionProblem(
  version: string,
  from?: ExtensionVersion['from'],
): string | undefined {
  const refused = `incompatible extension version '${version}'${from === undefined ? '' : ` (from ${from})`}`;
  if (semver.valid(version) === null) {
    return `${refused}: not a semantic version; supported: ${SUPPORTED_AUDIT_QS_VERSIONS}`;
  }
  if (!SUPPORTED_RANGE.test(version)) {
    return `${refused}: supported: ${SUPPORTED_AUDIT_QS_VERSIONS}`;
  }
  return undefined;
}

function checkExtensionVersion(envelope: AuditEnvelope, headerVersion?: string): ValidationError[] {
  const found = findExtensionVersion(envelope, headerVersion);
  if (found === undefined) return []; // accepted; the API warns about it
  const problem = extensionVersionProblem(found.version, found.from);
  if (problem === undefined) return [];
  return [{ instancePath: found.from === 'source.version' ? '/source/version' : '', message: problem }];
}

/** Compiles every schema once; the returned object holds no other state. */
export function createEnvelopeValidator(): EnvelopeValidator {
  const ajv = createAjv();
  const envelopeValidate = ajv.compile(envelopeSchema);
  const semanticValidate = ajv.compile(semanticSchema);
  const eventValidates = new Map(
    Object.entries(eventSchemasByType).map(([type, schema]) => [
      type,
      ajv.compile(envelopeWithEvent(schema)),
    ]),
  );

  return {
    validateEnvelope: (body) => runSchema(envelopeValidate, body),
    checkSemantics(envelope, headerVersion) {
      const eventValidate = eventValidates.get(envelope.type);
      return [
        ...runSchema(semanticValidate, envelope),
        ...checkEventType(envelope.type),
        ...checkEventTime(envelope.timestamp),
        ...(eventValidate ? runSchema(eventValidate, envelope) : []),
        ...checkExtensionVersion(envelope, headerVersion),
      ];
    },
  };
}

// ---------------------------------------------------------------------------------------
// Event time
// ---------------------------------------------------------------------------------------

/** RFC 3339 date-time as ajv-formats accepts it (separator T, t or a space; offset with or without colon). */
const RFC3339_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt\s](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * An RFC 3339 timestamp (already validated) as ms since the epoch. A leap second (`:60`), which
 * JavaScript cannot represent, is clamped to the last millisecond of its minute; the offset is
 * honoured. Fractions beyond milliseconds are truncated. Throws RangeError on anything else.
 */
export function eventTimeMs(timestamp: string): number {
  const match = RFC3339_DATE_TIME.exec(timestamp);
  if (match === null) throw new RangeError(`not an RFC 3339 date-time: '${timestamp}'`);
  const [, year, month, day, hour, minute, second, fraction, sign, offsetHours, offsetMinutes] = match;
  const isLeapSecond = Number(second) === 60;
  const milliseconds = isLeapSecond ? 999 : Number((fraction ?? '').padEnd(3, '0').slice(0, 3));
  const time = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  time.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  time.setUTCHours(Number(hour), Number(minute), isLeapSecond ? 59 : Number(second), milliseconds);
  const offset =
    sign === undefined
      ? 0
      : (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes ?? 0));
  return time.getTime() - offset * 60_000;
}
