/**
 * Reads Parquet files back with DuckDB, an independent reader, so that tests check what
 * another tool sees in the files rather than what our writer meant to put there.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

export interface ParquetColumnDescription {
  name: string;
  /** DuckDB's type name: BIGINT, VARCHAR, BOOLEAN, ... */
  type: string;
}

/** SQL string literal: paths may hold quotes. */
function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

async function withConnection<R>(use: (connection: DuckDBConnection) => Promise<R>): Promise<R> {
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    return await use(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Every row of a file or glob, with `filename` (base name) added. INT64 columns come back as
 * BigInt, so tests compare exactly what is stored.
 */
export async function readParquetRows(
  fileOrGlob: string,
  orderBy = 'filename, timestamp, eventId',
): Promise<Record<string, unknown>[]> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT * REPLACE (parse_filename(filename) AS filename)
         FROM read_parquet(${sqlString(fileOrGlob)}, filename = true)
         ORDER BY ${orderBy}`,
    );
    return reader.getRowObjects() as Record<string, unknown>[];
  });
}

export async function countParquetRows(fileOrGlob: string): Promise<number> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT count(*) AS n FROM read_parquet(${sqlString(fileOrGlob)})`,
    );
    return Number(reader.getRowObjects()[0].n);
  });
}

/** The eventId of every row of a file or glob, duplicates included: a row written twice shows twice. */
export async function readParquetEventIds(fileOrGlob: string): Promise<string[]> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT eventId FROM read_parquet(${sqlString(fileOrGlob)})`,
    );
    return reader.getRowObjects().map((row) => String(row.eventId));
  });
}

/** Column names and DuckDB types, in file order. */
export async function describeParquetColumns(file: string): Promise<ParquetColumnDescription[]> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    return reader
      .getRowObjectsJson()
      .map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
  });
}

/** The file's key-value metadata as text. */
export async function readParquetKeyValueMetadata(file: string): Promise<Record<string, string>> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${sqlString(file)})`,
    );
    return Object.fromEntries(reader.getRowObjects().map((row) => [String(row.key), String(row.value)]));
  });
}

/** The compression codec of every column chunk, as DuckDB reports it (SNAPPY, GZIP, UNCOMPRESSED). */
export async function readParquetCodecs(file: string): Promise<string[]> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file)}) ORDER BY compression`,
    );
    return reader.getRowObjects().map((row) => String(row.compression));
  });
}

/** Every row of one file as hyparquet reads it: a second, JavaScript-only reader. */
export async function readParquetRowsWithHyparquet(file: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await asyncBufferFromFile(file) });
}

/** How many row groups a file has. */
export async function countParquetRowGroups(file: string): Promise<number> {
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(${sqlString(file)})`,
    );
    return Number(reader.getRowObjects()[0].n);
  });
}

/** Runs any SQL, with relative paths resolved from `searchPath` (as a user's working directory). */
export async function runDuckDbQuery(sql: string, searchPath: string): Promise<Record<string, unknown>[]> {
  return withConnection(async (connection) => {
    await connection.run(`SET file_search_path = ${sqlString(searchPath)}`);
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjects() as Record<string, unknown>[];
  });
}

/**
 * Rows of a file, a glob or a list of files matching `where`, with the `textColumns` read as
 * their exact UTF-8 bytes. DuckDB's node
 * binding and hyparquet both decode text with a default TextDecoder, which drops a leading
 * U+FEFF from every value they return; the file and DuckDB's SQL keep it (`hex()` shows it).
 */
export async function readParquetRowsExactText(
  files: string | readonly string[],
  textColumns: readonly string[],
  where = 'true',
): Promise<Record<string, unknown>[]> {
  const source = typeof files === 'string' ? sqlString(files) : `[${files.map(sqlString).join(', ')}]`;
  const quoted = (column: string) => `"${column.replaceAll('"', '""')}"`;
  const replaced = textColumns.map((column) => `hex(${quoted(column)}) AS ${quoted(column)}`).join(', ');
  return withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT * REPLACE (${replaced}) FROM read_parquet(${source}) WHERE ${where}`,
    );
    return (reader.getRowObjects() as Record<string, unknown>[]).map((row) => {
      const exact = { ...row };
      for (const column of textColumns) {
        const hex = row[column];
        exact[column] = typeof hex === 'string' ? Buffer.from(hex, 'hex').toString('utf8') : hex;
      }
      return exact;
    });
  });
}
