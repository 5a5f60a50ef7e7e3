/**
 * The Parquet layout (SPEC 5): the one place that lists the columns, their order, their
 * types and where each value comes from. Types are explicit so that a column that happens to
 * be all null (or never null) in one file is typed the same as in every other file.
 */
import type { ColumnSource } from 'hyparquet-writer';
import type { AuditRecord } from '../../audit-events/types.js';
import type { StaticTag } from '../../config/schema.js';

/** Written into every file's key-value metadata; bump it when the layout changes. */
export const PARQUET_LAYOUT_VERSION = '1';

/** hyparquet-writer basic types: STRING is BYTE_ARRAY annotated UTF8. */
type ParquetColumnType = 'STRING' | 'INT64' | 'BOOLEAN';

type ParquetValue = string | bigint | boolean | null;

/** What a column may read besides the record: values that are the same for every row. */
export interface ParquetRowContext {
  /** JSON object of the static tags, null when there are none. */
  tagsJson: string | null;
}

interface ParquetColumn {
  name: string;
  type: ParquetColumnType;
  value(record: AuditRecord, context: ParquetRowContext): ParquetValue;
}

/** hyparquet-writer needs INT64 values as BigInt; fractions are rounded to the nearest integer. */
function int64(value: number | null): bigint | null {
  return value === null ? null : BigInt(Math.round(value));
}

function text(name: string, value: (record: AuditRecord) => string | null): ParquetColumn {
  return { name, type: 'STRING', value };
}

/** The record fields that hold text already, stored as they are. */
type TextField = {
  [K in keyof AuditRecord]: AuditRecord[K] extends string | null ? K : never;
}[keyof AuditRecord];

function recordText(name: TextField): ParquetColumn {
  return text(name, (record) => record[name]);
}

const PARQUET_COLUMNS: readonly ParquetColumn[] = [
  { name: 'timestamp', type: 'INT64', value: (record) => int64(record.timestampMs) },
  recordText('date'),
  recordText('eventId'),
  recordText('correlationId'),
  recordText('eventType'),
  recordText('user'),
  recordText('userDirectory'),
  recordText('userId'),
  recordText('appId'),
  recordText('appName'),
  recordText('sheetId'),
  recordText('sheetName'),
  recordText('objectId'),
  recordText('objectType'),
  recordText('selectionTxnId'),
  { name: 'durationMs', type: 'INT64', value: (record) => int64(record.durationMs) },
  { name: 'visible', type: 'BOOLEAN', value: (record) => record.visible },
  recordText('enteredAt'),
  recordText('leftAt'),
  recordText('enterSelectionTxnId'),
  recordText('leaveSelectionTxnId'),
  { name: 'dataStateId', type: 'INT64', value: (record) => int64(record.dataStateId) },
  recordText('selectionDetails'),
  recordText('screenshotUrl'),
  text('screenshotSavedPaths', (record) =>
    record.screenshotSavedPaths === null ? null : JSON.stringify(record.screenshotSavedPaths),
  ),
  recordText('objectData'),
  { name: 'tags', type: 'STRING', value: (_record, context) => context.tagsJson },
];

/** The `tags` column's value: `{"name": "value", ...}`, or null when no static tags are set. */
export function staticTagsJson(staticTags: readonly StaticTag[]): string | null {
  if (staticTags.length === 0) return null;
  return JSON.stringify(Object.fromEntries(staticTags.map((tag) => [tag.name, tag.value])));
}

/** The records as hyparquet-writer column data, one entry per column in layout order. */
export function toParquetColumnData(
  records: readonly AuditRecord[],
  context: ParquetRowContext,
): ColumnSource[] {
  return PARQUET_COLUMNS.map((column) => ({
    name: column.name,
    type: column.type,
    data: records.map((record) => column.value(record, context)),
  }));
}
