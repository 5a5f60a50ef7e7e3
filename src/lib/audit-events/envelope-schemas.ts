/**
 * The JSON schemas of an Audit.qs envelope, in two layers (docs/http-api.md):
 * - the envelope schema: fields missing or of the wrong JSON type → 400;
 * - the semantic schemas: formats, lengths and the per-type payloads → 422.
 * Extra properties are allowed everywhere (no additionalProperties: false): a later
 * extension version may send more, and what is stored is what was sent.
 */
import type { SchemaObject } from 'ajv';

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

/** Any `event.<something>` type is accepted besides the known ones (forward compatibility). */
export const OPEN_EVENT_TYPE = /^event\..+/;

const MAX_SAFE_DURATION = Number.MAX_SAFE_INTEGER;

const sourceSchema = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
  },
} as const;

/** Field presence and JSON types only: a failure here is a 400. */
export const envelopeSchema = {
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
export const semanticSchema = {
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

/** `payload.event` schemas by type (docs/http-api.md); other types need nothing beyond the envelope. */
export const eventSchemasByType: Record<string, SchemaObject> = {
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
export function envelopeWithEvent(eventSchema: SchemaObject): SchemaObject {
  return {
    type: 'object',
    required: ['payload'],
    properties: {
      payload: { type: 'object', required: ['event'], properties: { event: eventSchema } },
    },
  };
}
