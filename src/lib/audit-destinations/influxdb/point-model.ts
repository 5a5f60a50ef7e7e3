/**
 * The one mapping from an AuditRecord to an InfluxDB point (docs/influxdb.md), independent of the
 * InfluxDB version and of line protocol: values are exactly as in the record. What line
 * protocol cannot carry is handled later, in one place (line-protocol.ts).
 */
import type { AuditRecord } from '../../audit-events/types.js';
import type { InfluxdbConfig, StaticTag } from '../../config/schema.js';

/** A bigint is an integer field (`123i`); other numbers are floats. */
export type InfluxFieldValue = string | number | boolean | bigint;

export interface InfluxPointModel {
  measurement: string;
  /** Only non-empty values, exactly as in the record. */
  tags: Record<string, string>;
  /** Numbers are floats on every version. */
  fields: Record<string, InfluxFieldValue>;
  timestampNs: bigint;
  /** For dead-letter records and logs. */
  eventId: string;
}

export interface InfluxMappingOptions {
  measurementName: string;
  auditEventSchemaVersion: string;
  staticTags: readonly StaticTag[];
  /** eventId, correlationId and selectionTxnId as tags (true) or fields (false); see docs/influxdb.md. */
  idTags: boolean;
}

/** The string field that names the fields cut to maxStringFieldBytes (line-protocol.ts), comma-separated. */
export const TRUNCATED_FIELDS_KEY = 'truncatedFields';

/** The tag written when an event has no type, so that every point has one. */
const UNKNOWN_EVENT_TYPE = 'unknown';

/**
 * With idTags, eventId is a tag, and InfluxDB 3 refuses a tag and a field of the same name
 * in one table ("A tag and a field can't have the same name within a table", docs-v2
 * influxdb3-write-guides/http-api/compatibility-apis.md; InfluxDB 1.x stores both but then
 * shows them as `eventId` and `eventId_1`). The field that keeps every point non-empty is
 * then written under this name instead.
 */
export const EVENT_ID_FIELD_WITH_ID_TAGS = 'eventIdField';

const RECORD_TAGS = ['user', 'userDirectory', 'userId', 'appId', 'appName', 'objectType'] as const;
const ID_KEYS = ['correlationId', 'selectionTxnId'] as const;
const STRING_FIELDS = [
  'sheetId',
  'sheetName',
  'objectId',
  'enteredAt',
  'leftAt',
  'enterSelectionTxnId',
  'leaveSelectionTxnId',
] as const;

/** Every tag and field name the mapping itself writes; a static tag never takes one of them. */
const AUDIT_POINT_KEYS: ReadonlySet<string> = new Set([
  'eventType',
  'auditEventSchemaVersion',
  ...RECORD_TAGS,
  'eventId',
  ...ID_KEYS,
  ...STRING_FIELDS,
  'durationMs',
  'visible',
  'dataStateId',
  'selectionDetails',
  'screenshotUrl',
  'screenshotSavedPaths',
  'objectData',
  EVENT_ID_FIELD_WITH_ID_TAGS,
  TRUNCATED_FIELDS_KEY,
]);

/** IDs are tags on v3 (no series index), fields on v1 and v2, unless configured (docs/influxdb.md, idTags). */
export function resolveIdTags(config: Pick<InfluxdbConfig, 'idTags' | 'version'>): boolean {
  return config.idTags ?? config.version === 3;
}

/** The mapping options a destination configured with `config` writes with. */
export function influxMappingOptions(config: InfluxdbConfig): InfluxMappingOptions {
  return {
    measurementName: config.measurementName,
    auditEventSchemaVersion: config.auditEventSchemaVersion,
    staticTags: config.staticTags,
    idTags: resolveIdTags(config),
  };
}

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * `ms * 1e6 + FNV-1a(eventId) mod 1e6`: two events of one series in the same millisecond
 * keep distinct timestamps, and a replayed event overwrites itself instead of duplicating.
 */
export function auditPointTimestampNs(timestampMs: number, eventId: string): bigint {
  return BigInt(Math.floor(timestampMs)) * 1_000_000n + BigInt(fnv1a32(eventId) % 1_000_000);
}

function putIfNonEmpty(target: Record<string, string>, key: string, value: string | null): void {
  if (value !== null && value !== '') target[key] = value;
}

function putIfPresent(
  target: Record<string, InfluxFieldValue>,
  key: string,
  value: InfluxFieldValue | null,
): void {
  if (value !== null) target[key] = value;
}

function buildTags(record: AuditRecord, options: InfluxMappingOptions): Record<string, string> {
  const tags: Record<string, string> = {
    eventType: record.eventType || UNKNOWN_EVENT_TYPE,
    auditEventSchemaVersion: options.auditEventSchemaVersion,
  };
  for (const key of RECORD_TAGS) putIfNonEmpty(tags, key, record[key]);
  for (const { name, value } of options.staticTags) {
    // A static tag must not overwrite event data, nor share a name with a field.
    if (!AUDIT_POINT_KEYS.has(name)) putIfNonEmpty(tags, name, value);
  }
  if (options.idTags) {
    putIfNonEmpty(tags, 'eventId', record.eventId);
    for (const key of ID_KEYS) putIfNonEmpty(tags, key, record[key]);
  }
  return tags;
}

function buildFields(record: AuditRecord, options: InfluxMappingOptions): Record<string, InfluxFieldValue> {
  const fields: Record<string, InfluxFieldValue> = {};
  for (const key of STRING_FIELDS) putIfPresent(fields, key, record[key]);
  putIfPresent(fields, 'durationMs', record.durationMs);
  putIfPresent(fields, 'visible', record.visible);
  putIfPresent(fields, 'dataStateId', record.dataStateId);
  putIfPresent(fields, 'selectionDetails', record.selectionDetails);
  putIfPresent(fields, 'screenshotUrl', record.screenshotUrl);
  putIfPresent(fields, 'screenshotSavedPaths', record.screenshotSavedPaths);
  putIfPresent(fields, 'objectData', record.objectData);
  // Always a field, so that no point is ever without one.
  fields[options.idTags ? EVENT_ID_FIELD_WITH_ID_TAGS : 'eventId'] = record.eventId;
  if (!options.idTags) {
    for (const key of ID_KEYS) putIfPresent(fields, key, record[key]);
  }
  return fields;
}

export function buildAuditInfluxPointModel(
  record: AuditRecord,
  options: InfluxMappingOptions,
): InfluxPointModel {
  return {
    measurement: options.measurementName,
    tags: buildTags(record, options),
    fields: buildFields(record, options),
    timestampNs: auditPointTimestampNs(record.timestampMs, record.eventId),
    eventId: record.eventId,
  };
}
