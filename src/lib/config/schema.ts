/**
 * The one JSON schema of `Butler-SOS.auditEvents`. Defaults live here (ajv applies them), and
 * the TypeScript config types are derived from it, so config and code cannot disagree.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { screenshotsConfigSchema } from './screenshots-schema.js';

/** Where the section sits in a config file; messages name keys by their full path from here. */
export const CONFIG_ROOT = 'Butler-SOS.auditEvents';

const staticTagsSchema = {
  type: 'array',
  default: [],
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'value'],
    properties: {
      name: { type: 'string', minLength: 1 },
      value: { type: 'string' },
    },
  },
} as const;

const positiveInt = (defaultValue: number, maximum?: number) =>
  ({
    type: 'integer',
    minimum: 1,
    ...(maximum === undefined ? {} : { maximum }),
    default: defaultValue,
  }) as const;

/** The `influx` package writes measurement names unescaped: only names that need no escaping. */
const measurementNameSchema = <Default extends string>(defaultName: Default) =>
  ({
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$',
    default: defaultName,
    errorMessage: {
      pattern: 'must start with a letter or _ and hold only letters, digits, _ . - (at most 128 characters)',
    },
  }) as const;

const writeFrequencySchema = {
  type: 'integer',
  minimum: 0,
  default: 20000,
  description: 'ms between flushes; 0 writes every event at once',
} as const;

const influxV1ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dbName'],
  properties: {
    dbName: { type: 'string', minLength: 1 },
    retentionPolicy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        name: { type: 'string', minLength: 1, default: 'autogen' },
        duration: { type: 'string', pattern: '^(INF|inf|([0-9]+(ns|u|µ|ms|s|m|h|d|w))+)$', default: 'INF' },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: { type: 'boolean', default: false },
        username: { type: 'string', default: '' },
        password: { type: 'string', default: '' },
      },
    },
  },
} as const;

const retentionDurationSchema = {
  type: 'string',
  pattern: '^([0-9]+(ns|us|ms|s|m|h|d|w))+$',
  default: '0s',
  errorMessage: { pattern: "must be a duration such as '0s' (infinite), '30d' or '1w2d'" },
} as const;

const influxV2ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'bucket', 'token'],
  properties: {
    org: { type: 'string', minLength: 1 },
    bucket: { type: 'string', minLength: 1 },
    description: { type: 'string', minLength: 1 },
    token: { type: 'string', minLength: 1 },
    retentionDuration: retentionDurationSchema,
  },
} as const;

const influxV3ConfigSchema = {
  type: 'object',
  required: ['database', 'token'],
  properties: {
    database: { type: 'string', minLength: 1 },
    description: { type: 'string', minLength: 1 },
    token: { type: 'string', minLength: 1 },
    retentionDuration: retentionDurationSchema,
    writeTimeout: { type: 'integer', minimum: 1, default: 10000 },
    queryTimeout: {
      not: {},
      errorMessage:
        'not a v3 audit option: v3 audit writes have no query timeout (remove it; use writeTimeout)',
    },
  },
  additionalProperties: false,
} as const;

const influxdbSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'version'],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 8086 },
    protocol: { type: 'string', enum: ['http', 'https'], default: 'http' },
    version: { type: 'integer', enum: [1, 2, 3] },
    maxBatchSize: positiveInt(1000, 10000),
    writeFrequency: writeFrequencySchema,
    measurementName: measurementNameSchema('audit_event'),
    auditEventSchemaVersion: { type: 'string', minLength: 1, default: '1' },
    staticTags: staticTagsSchema,
    idTags: { type: 'boolean', description: 'default false on v1 and v2, true on v3' },
    maxBufferedPoints: {
      type: 'integer',
      minimum: 1,
      description: 'ignored (accepted for configs that carry it): events wait in the journal, not in memory',
    },
    maxStringFieldBytes: { type: 'integer', minimum: 1024, default: 65536 },
    v1Config: influxV1ConfigSchema,
    v2Config: influxV2ConfigSchema,
    v3Config: influxV3ConfigSchema,
  },
  allOf: [
    { if: { properties: { version: { const: 1 } } }, then: { required: ['v1Config'] } },
    // A description is needed to create the bucket (v2) and is asked for by Butler SOS (v3), but
    // only of the configured version: a block kept for another version may leave it out.
    {
      if: { properties: { version: { const: 2 } } },
      then: { required: ['v2Config'], properties: { v2Config: { required: ['description'] } } },
    },
    {
      if: { properties: { version: { const: 3 } } },
      then: { required: ['v3Config'], properties: { v3Config: { required: ['description'] } } },
    },
  ],
} as const;

const parquetSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    exportDirectory: { type: 'string', minLength: 1, default: 'audit-events/parquet' },
    maxBatchSize: positiveInt(1000, 1000000),
    writeFrequency: writeFrequencySchema,
    staticTags: staticTagsSchema,
    compression: {
      type: 'string',
      enum: ['snappy', 'gzip', 'none'],
      default: 'snappy',
      errorMessage: { enum: "must be 'snappy', 'gzip' or 'none' (hyparquet-writer has no built-in zstd)" },
    },
    rowGroupSize: { type: 'integer', minimum: 1 },
    includeEnvelope: {
      type: 'boolean',
      default: true,
      description: 'keep the envelope as received in the envelope column',
    },
  },
} as const;

const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enable: { type: 'boolean', default: false },
    certFile: { type: 'string' },
    keyFile: { type: 'string' },
    caFile: { type: 'string' },
    passphrase: { type: 'string' },
    minVersion: { type: 'string', enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
  },
  if: { properties: { enable: { const: true } }, required: ['enable'] },
  then: { required: ['certFile', 'keyFile'] },
} as const;

export const auditEventsConfigSchema = {
  $id: 'butler-sos-audit-events-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    enable: { type: 'boolean', default: true },
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8081 },
    apiToken: { type: 'string', default: '' },
    cors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        allowedOrigins: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: { type: 'boolean', default: true },
        maxPerMinute: positiveInt(300),
      },
    },
    tls: tlsSchema,
    trustProxy: { type: 'boolean', default: false },
    bodyLimitBytes: positiveInt(1048576),
    shutdownTimeoutMs: { type: 'integer', minimum: 0, default: 30000 },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxConcurrent: positiveInt(10),
        maxSize: positiveInt(10000),
        backpressureThreshold: {
          type: 'number',
          minimum: 0,
          maximum: 100,
          default: 80,
          description:
            '% of the log full at which it counts as under back-pressure (queue metrics, a warning)',
        },
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enable: { type: 'boolean', default: false },
            maxMessagesPerMinute: positiveInt(600),
          },
        },
        queueMetrics: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            influxdb: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                enable: { type: 'boolean', default: false },
                writeFrequency: positiveInt(20000),
                measurementName: measurementNameSchema('audit_events_queue'),
                tags: staticTagsSchema,
              },
            },
          },
        },
      },
    },
    journal: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: { type: 'boolean', default: true },
        directory: { type: 'string', minLength: 1, default: 'audit-events/journal' },
        maxBytes: { type: 'integer', minimum: 1048576, default: 1073741824 },
        fsync: { type: 'string', enum: ['batch', 'always', 'never'], default: 'batch' },
      },
    },
    destination: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: { type: 'boolean', default: true },
        type: {
          type: 'string',
          default: 'parquet',
          pattern: '^\\s*[A-Za-z]+\\s*(,\\s*[A-Za-z]+\\s*)*$',
          errorMessage: { pattern: "must be a comma-delimited list of 'influxdb' and 'parquet'" },
        },
        influxdb: influxdbSchema,
        parquet: parquetSchema,
        screenshots: screenshotsConfigSchema,
      },
    },
  },
} as const;

export type AuditEventsConfig = FromSchema<
  typeof auditEventsConfigSchema,
  { keepDefaultedPropertiesOptional: false }
>;
export type InfluxdbConfig = FromSchema<typeof influxdbSchema, { keepDefaultedPropertiesOptional: false }>;
export type ParquetConfig = FromSchema<typeof parquetSchema, { keepDefaultedPropertiesOptional: false }>;
export type StaticTag = FromSchema<typeof staticTagsSchema>[number];

/** The destination names `destination.type` may list. */
export const DESTINATION_TYPES = ['influxdb', 'parquet'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

/** `destination.type`'s comma-delimited names, trimmed, as written (case kept, empty names too). */
export function destinationTypeNames(type: string): string[] {
  return type.split(',').map((name) => name.trim());
}
