/**
 * The column types of InfluxDB 3's catalog. InfluxDB 3 checks every line against the one type
 * its catalog holds per column of the table (tags included), in order, before it writes
 * anything, and each accepted line's new columns bind the lines after it
 * (influxdb3 `influxdb3_write/src/write_buffer/validator.rs` `validate_and_qualify_v1_line`,
 * `influxdb3_catalog/src/catalog/versions/v3/transaction.rs` `column_or_create`). influxd 1.x
 * only finds a conflict per shard, and only while writing, so the emulator checks first, against
 * the columns influxd holds for the table in the whole database.
 */
import { quoteIdentifier, type InfluxdServer } from '../influxd.js';
import { lineColumns, type ColumnType, type LineFailure, type PreparedLine } from './line-protocol.js';

/** The catalog's names of the column types (influxdb3 `core/schema/src/lib.rs`, `InfluxColumnType` as &str). */
const IOX_COLUMN_TYPES: Record<ColumnType, string> = {
  tag: 'iox::column_type::tag',
  float: 'iox::column_type::field::float',
  integer: 'iox::column_type::field::integer',
  uinteger: 'iox::column_type::field::uinteger',
  string: 'iox::column_type::field::string',
  boolean: 'iox::column_type::field::boolean',
};

/** influxd's `SHOW FIELD KEYS` types. */
const INFLUXD_FIELD_TYPES: Record<string, ColumnType> = {
  float: 'float',
  integer: 'integer',
  unsigned: 'uinteger',
  string: 'string',
  boolean: 'boolean',
};

/** `CatalogError::InvalidColumnType` (influxdb3 `influxdb3_catalog/src/error.rs`). */
function invalidColumnType(column: string, expected: ColumnType, got: ColumnType): string {
  return `invalid column type for column '${column}', expected ${IOX_COLUMN_TYPES[expected]}, got ${IOX_COLUMN_TYPES[got]}`;
}

/**
 * The lines whose column types clash with the table's, in order, each with InfluxDB 3's
 * message; only the first when `firstOnly` (an all-or-nothing write stops there). The lines
 * must have passed influxd's parse check. `db` is undefined for a database not created yet.
 */
export async function findColumnTypeConflicts(
  influxd: InfluxdServer,
  db: string | undefined,
  lines: PreparedLine[],
  firstOnly: boolean,
): Promise<LineFailure[]> {
  const tables = new Map<string, Map<string, ColumnType>>();
  const failures: LineFailure[] = [];
  for (const line of lines) {
    const { table, columns } = lineColumns(line.text);
    let known = tables.get(table);
    if (!known) {
      known = db === undefined ? new Map() : await storedColumns(influxd, db, table);
      tables.set(table, known);
    }
    // Column by column, as the catalog transaction does: the columns before a clash are kept.
    for (const { name, type } of columns) {
      const expected = known.get(name);
      if (expected === undefined) known.set(name, type);
      else if (expected !== type) {
        failures.push({ line, message: invalidColumnType(name, expected, type) });
        if (firstOnly) return failures;
        break;
      }
    }
  }
  return failures;
}

/** The table's columns in influxd: a key stored with several types (one per shard) takes the first. */
async function storedColumns(
  influxd: InfluxdServer,
  db: string,
  table: string,
): Promise<Map<string, ColumnType>> {
  const columns = new Map<string, ColumnType>();
  for (const row of await influxd.query(db, `SHOW TAG KEYS FROM ${quoteIdentifier(table)}`)) {
    columns.set(String(row.tagKey), 'tag');
  }
  for (const row of await influxd.query(db, `SHOW FIELD KEYS FROM ${quoteIdentifier(table)}`)) {
    const name = String(row.fieldKey);
    if (!columns.has(name)) columns.set(name, INFLUXD_FIELD_TYPES[String(row.fieldType)]);
  }
  return columns;
}
