/**
 * Checks a posted body against the envelope schemas (envelope-schemas.ts): the envelope layer
 * answers 400, the semantic layer 422 with every violation at once. Validation never coerces,
 * never strips and never fills in defaults: what is stored is what was sent.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  KNOWN_EVENT_TYPES,
  OPEN_EVENT_TYPE,
  envelopeSchema,
  envelopeWithEvent,
  eventSchemasByType,
  semanticSchema,
} from './envelope-schemas.js';
import { eventTimeMs, isStorableEventTime } from './event-time.js';
import { extensionVersionProblem, findExtensionVersion, type ExtensionVersion } from './extension-version.js';
import type { AuditEnvelope } from './types.js';

export interface ValidationError {
  /** JSON pointer to the offending value ('' = the whole body, or a header). */
  instancePath: string;
  message: string;
}

/** The semantic layer's verdict, with the extension version it found (undefined: none was sent). */
export interface SemanticCheck {
  errors: ValidationError[];
  extensionVersion: ExtensionVersion | undefined;
}

export interface EnvelopeValidator {
  /** Presence and JSON types of the envelope fields; empty when the body is an envelope (else 400). */
  validateEnvelope(body: unknown): ValidationError[];
  /**
   * Formats, limits, type, per-type payload and extension version: `errors` empty when valid
   * (else 422), with the extension version read on the way.
   */
  checkSemantics(envelope: AuditEnvelope, headerVersion?: string): SemanticCheck;
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
  if (isStorableEventTime(time)) return [];
  return [{ instancePath: '/timestamp', message: 'must fall within years 0001..9999 in UTC' }];
}

function checkExtensionVersion(found: ExtensionVersion | undefined): ValidationError[] {
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

  const checkSemantics = (envelope: AuditEnvelope, headerVersion?: string): SemanticCheck => {
    const eventValidate = eventValidates.get(envelope.type);
    const extensionVersion = findExtensionVersion(envelope, headerVersion);
    const errors = [
      ...runSchema(semanticValidate, envelope),
      ...checkEventType(envelope.type),
      ...checkEventTime(envelope.timestamp),
      ...(eventValidate ? runSchema(eventValidate, envelope) : []),
      ...checkExtensionVersion(extensionVersion),
    ];
    return { errors, extensionVersion };
  };

  return {
    validateEnvelope: (body) => runSchema(envelopeValidate, body),
    checkSemantics,
  };
}
