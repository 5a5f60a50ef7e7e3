/**
 * Parquet: rows/s and bytes per row of our sink (column mapping, encoding, temp file, fsync,
 * exclusive publish) against hyparquet-writer encoding the same, already built, columns
 * straight to a file: the ceiling for this library on this machine. DuckDB's COPY of the same
 * columns is reported next to them, as the native writer one could use instead.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { toAuditRecord } from '../dist/lib/audit-events/record.js';
import { toParquetColumnData } from '../dist/lib/audit-destinations/parquet/schema.js';
import { encodingOptionsFrom, ParquetPartFileSink } from '../dist/lib/audit-destinations/parquet/writer.js';
import { createSilentLogger } from '../dist/lib/logger.js';
import { createEventFactory } from './realistic-events.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function directorySize(directory: string): number {
  return readdirSync(directory).reduce((sum, name) => sum + statSync(path.join(directory, name)).size, 0);
}

const DUCKDB_TYPES: Record<string, string> = { STRING: 'VARCHAR', INT64: 'BIGINT', BOOLEAN: 'BOOLEAN' };

/** Seconds for DuckDB to take the columns through its appender and COPY them to a snappy Parquet file. */
async function duckDbCopySeconds(columnData: ColumnSource[], file: string): Promise<number> {
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    const columns = columnData.map((column) => `"${column.name}" ${DUCKDB_TYPES[column.type as string]}`);
    const started = performance.now();
    await connection.run(`CREATE OR REPLACE TABLE audit (${columns.join(', ')})`);
    const appender = await connection.createAppender('audit');
    const rows = columnData[0].data.length;
    for (let row = 0; row < rows; row += 1) {
      for (const column of columnData) {
        const value = column.data[row];
        if (value === null) appender.appendNull();
        else if (typeof value === 'bigint') appender.appendBigInt(value);
        else if (typeof value === 'boolean') appender.appendBoolean(value);
        else appender.appendVarchar(value as string);
      }
      appender.endRow();
    }
    appender.closeSync();
    await connection.run(`COPY audit TO '${file}' (FORMAT parquet, COMPRESSION snappy)`);
    return (performance.now() - started) / 1000;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export async function benchParquetEncoding(rows: number, rounds: number): Promise<string[]> {
  const nextEvent = createEventFactory();
  const records = Array.from({ length: rows }, (_, index) => toAuditRecord(nextEvent(index)));
  const items = records.map((value, index) => ({ value, seq: index + 1 }));
  const encoding = encodingOptionsFrom({ compression: 'snappy' });
  const columnData = toParquetColumnData(records, { tagsJson: null });
  const sinkDir = mkdtempSync(path.join(os.tmpdir(), 'bench-sink-'));
  const directDir = mkdtempSync(path.join(os.tmpdir(), 'bench-direct-'));
  const sink = new ParquetPartFileSink({
    directory: sinkDir,
    encoding,
    tagsJson: null,
    logger: createSilentLogger(),
  });

  const sinkSeconds: number[] = [];
  const encodeSeconds: number[] = [];
  const directSeconds: number[] = [];
  const duckDbSeconds: number[] = [];
  const duckDbDir = mkdtempSync(path.join(os.tmpdir(), 'bench-duckdb-'));
  const timed = async (into: number[], work: () => unknown) => {
    const started = performance.now();
    await work();
    into.push((performance.now() - started) / 1000);
  };
  for (let round = 0; round < rounds; round += 1) {
    await timed(sinkSeconds, () => sink.write(items));
    // What the sink encodes, without the durable publish: column mapping + hyparquet-writer.
    await timed(encodeSeconds, () =>
      parquetWriteBuffer({ columnData: toParquetColumnData(records, { tagsJson: null }), ...encoding }),
    );
    await timed(directSeconds, () => {
      const buffer = parquetWriteBuffer({ columnData, ...encoding });
      writeFileSync(path.join(directDir, `direct${round}.parquet`), new Uint8Array(buffer));
    });
    duckDbSeconds.push(await duckDbCopySeconds(columnData, path.join(duckDbDir, `copy${round}.parquet`)));
  }
  const direct = rows / median(directSeconds);
  const line = (label: string, seconds: number[], goal?: number) => {
    const rate = rows / median(seconds);
    const ratio = rate / direct;
    const verdict = goal === undefined ? '' : `  (goal >= ${goal}: ${ratio >= goal ? 'met' : 'NOT met'})`;
    return `${label.padEnd(38)} ${rate.toFixed(0).padStart(7)} rows/s  ratio ${ratio.toFixed(2)}${verdict}`;
  };
  // What the envelope column costs (includeEnvelope, on by default): the same events, kept whole.
  const bytesPerRow = (withEnvelope: boolean) => {
    const kept = records.map((_, index) => toAuditRecord(nextEvent(index), {}, { withEnvelope }));
    return (
      parquetWriteBuffer({ columnData: toParquetColumnData(kept, { tagsJson: null }), ...encoding })
        .byteLength / rows
    );
  };
  const [without, withEnvelope] = [bytesPerRow(false), bytesPerRow(true)];
  return [
    `${'hyparquet-writer direct (ceiling)'.padEnd(38)} ${direct.toFixed(0).padStart(7)} rows/s  ` +
      `${(directorySize(directDir) / (rows * rounds)).toFixed(1)} bytes/row`,
    line('our encoding (column mapping + encode)', encodeSeconds, 0.9),
    line('our sink (+ temp file, fsync, publish)', sinkSeconds) +
      `  ${(directorySize(sinkDir) / (rows * rounds)).toFixed(1)} bytes/row`,
    line('DuckDB appender + COPY (report)', duckDbSeconds) +
      `  ${(directorySize(duckDbDir) / (rows * rounds)).toFixed(1)} bytes/row`,
    `envelope column (includeEnvelope): ${withEnvelope.toFixed(1)} bytes/row with it, ${without.toFixed(1)} without ` +
      `(+${(withEnvelope - without).toFixed(1)})`,
  ];
}
