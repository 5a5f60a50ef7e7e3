/**
 * The Parquet layout (docs/parquet.md): the one place that lists the columns, their order, their
 * types and where each value comes from. Types are explicit so that a column that happens to
 * be all null (or never null) in one file is typed the same as in every other file.
 */
import type { ColumnSource } from 'hyparquet-writer';
import type { AuditRecord } from '../../audit-events/types.js';
import type { StaticTag } from '../../config/schema.js';

/** Written into every file's key-value metadata; bump it when the layout changes. */
export const PARQUET_LAYOUT_VERSION = '2';

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

function text(
  name: string,
  value: (record: AuditRecord, context: ParquetRowContext) => string | null,
): ParquetColumn {
  return { name, type: 'STRING', value };
}

// Each accessor is its own function literal (not one `record[name]` closure shared by all):
// V8 then keeps every property read monomorphic, which makes the mapping about 3x faster.
const PARQUET_COLUMNS: readonly ParquetColumn[] = [
  { name: 'timestamp', type: 'INT64', value: (record) => int64(record.timestampMs) },
  text('date', (record) => record.date),
  text('eventId', (record) => record.eventId),
  text('correlationId', (record) => record.correlationId),
  text('eventType', (record) => record.eventType),
  text('user', (record) => record.user),
  text('userDirectory', (record) => record.userDirectory),
  text('userId', (record) => record.userId),
  text('appId', (record) => record.appId),
  text('appName', (record) => record.appName),
  text('sheetId', (record) => record.sheetId),
  text('sheetName', (record) => record.sheetName),
  text('objectId', (record) => record.objectId),
  text('objectType', (record) => record.objectType),
  text('selectionTxnId', (record) => record.selectionTxnId),
  { name: 'durationMs', type: 'INT64', value: (record) => int64(record.durationMs) },
  { name: 'visible', type: 'BOOLEAN', value: (record) => record.visible },
  text('enteredAt', (record) => record.enteredAt),
  text('leftAt', (record) => record.leftAt),
  text('enterSelectionTxnId', (record) => record.enterSelectionTxnId),
  text('leaveSelectionTxnId', (record) => record.leaveSelectionTxnId),
  { name: 'dataStateId', type: 'INT64', value: (record) => int64(record.dataStateId) },
  text('selectionDetails', (record) => record.selectionDetails),
  text('screenshotUrl', (record) => record.screenshotUrl),
  text('screenshotSavedPaths', (record) => record.screenshotSavedPaths),
  text('objectData', (record) => record.objectData),
  text('tags', (_record, context) => context.tagsJson),
  // Layout 2: the envelope as accepted (includeEnvelope), so that nothing the extension sends is lost.
  text('envelope', (record) => record.envelope),
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
  return PARQUET_COLUMNS.map(({ name, type, value }) => {
    const data = new Array<ParquetValue>(records.length);
    for (let index = 0; index < records.length; index += 1) data[index] = value(records[index], context);
    return { name, type, data };
  });
}
