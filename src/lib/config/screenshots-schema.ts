/**
 * The JSON schema of `destination.screenshots` (docs/screenshots.md), with Butler SOS 15's key
 * names and defaults. Its own file because it is large; schema.ts uses it as one property.
 */
import type { FromSchema } from 'json-schema-to-ts';

const flag = (defaultValue: boolean) => ({ type: 'boolean', default: defaultValue }) as const;

const storageTargetSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['directory'],
  properties: {
    enable: flag(false),
    type: { type: 'string', enum: ['flat'], default: 'flat' },
    directory: { type: 'string', minLength: 1 },
  },
} as const;

const qpsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 4243 },
    virtualProxy: {
      type: 'string',
      pattern: '^[A-Za-z0-9._~-]*$',
      default: '',
      errorMessage: { pattern: "must be a virtual proxy prefix without slashes, or '' for the default one" },
    },
    userDirectory: { type: 'string', minLength: 1 },
    userId: { type: 'string', minLength: 1 },
    ticketTimeoutMs: { type: 'integer', minimum: 1, default: 5000 },
  },
} as const;

/** The client certificate for the Qlik Proxy Service, and how its server certificate is checked. */
const qlikTlsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['certFile', 'keyFile'],
  properties: {
    certFile: { type: 'string', minLength: 1 },
    keyFile: { type: 'string', minLength: 1 },
    caFile: { type: 'string', minLength: 1 },
    passphrase: { type: 'string' },
    rejectUnauthorized: flag(true),
  },
} as const;

const sessionCacheSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enable: flag(false),
    maxEntries: { type: 'integer', minimum: 1, default: 100 },
    // Above this a timer cannot be scheduled (2^31-1 ms).
    ttlSeconds: { type: 'integer', minimum: 1, maximum: 2147483, default: 120 },
  },
} as const;

const ticketModeNeeds = (qpsKeys: readonly string[]) =>
  ({
    required: ['tls'],
    properties: { qps: { required: qpsKeys } },
  }) as const;

const authSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    mode: { type: 'string', enum: ['none', 'qpsTicket', 'userTicket'], default: 'none' },
    qps: qpsSchema,
    tls: qlikTlsSchema,
    sessionCache: sessionCacheSchema,
  },
  allOf: [
    {
      if: { properties: { mode: { const: 'qpsTicket' } }, required: ['mode'] },
      then: ticketModeNeeds(['host', 'userDirectory', 'userId']),
    },
    {
      if: { properties: { mode: { const: 'userTicket' } }, required: ['mode'] },
      then: ticketModeNeeds(['host']),
    },
  ],
} as const;

const metadataFieldsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    date: flag(false),
    eventId: flag(false),
    correlationId: flag(false),
    selectionTxnId: flag(false),
    user: flag(false),
    appId: flag(false),
    appName: flag(false),
    sheetName: flag(false),
    viewingDuration: flag(false),
  },
} as const;

export const screenshotsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enable: flag(false),
    // Empty: nothing is downloaded. Butler SOS's null for an empty list is made [] before
    // validation (butler-sos-layouts.ts), as for storageTargets.
    allowedImageDownloadHosts: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    downloadTimeoutMs: { type: 'integer', minimum: 1, default: 15000 },
    maxBytes: { type: 'integer', minimum: 1, default: 10485760 },
    storageTargets: { type: 'array', items: storageTargetSchema, default: [] },
    auth: authSchema,
    addInImageMetadata: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: flag(false),
        fields: metadataFieldsSchema,
      },
    },
  },
} as const;

export type ScreenshotsConfig = FromSchema<
  typeof screenshotsConfigSchema,
  { keepDefaultedPropertiesOptional: false }
>;
export type ScreenshotMetadataFields = FromSchema<
  typeof metadataFieldsSchema,
  { keepDefaultedPropertiesOptional: false }
>;
export type QlikTlsConfig = FromSchema<typeof qlikTlsSchema, { keepDefaultedPropertiesOptional: false }>;
