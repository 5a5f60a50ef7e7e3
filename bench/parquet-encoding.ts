/**
 * Parquet: rows/s and bytes per row of our sink (column mapping, encoding, temp file, fsync,
 * exclusive publish) against hyparquet-writer encoding the same, already built, columns
 * straight to a file: the ceiling for this library on this machine.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { toAuditRecord } from '../src/lib/audit-events/record.js';
import { toParquetColumnData } from '../src/lib/audit-destinations/parquet/schema.js';
import { encodingOptionsFrom, ParquetPartFileSink } from '../src/lib/audit-destinations/parquet/writer.js';
import { createSilentLogger } from '../src/lib/logger.js';
import { createEventFactory } from './realistic-events.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function directorySize(directory: string): number {
  return readdirSync(directory).reduce((sum, name) => sum + statSync(path.join(directory, name)).size, 0);
}

export async function benchParquetEncoding(rows: number, rounds: number): Promise<string[]> {
  const nextEvent = createEventFactory();
  const records = Array.from({ length: rows }, (_, index) => toAuditRecord(nextEvent(index)));
  const items = records.map((value, index) => ({ value, seq: index + 1 }));
  const encoding = encodingOptionsFrom({ compression: 'snappy' });
  const columnData = toParquetColumnData(records, { tagsJson: null });
  const sinkDir = mkdtempSync(path.join(os.tmpdir(), 'bench-sink-'));
  const directDir = mkdtempSync(path.join(os.tmpdir(), 'bench-direct-'));
  const sink = new ParquetPartFileSink({ directory: sinkDir, encoding, tagsJson: null, logger: createSilentLogger() });

  const sinkSeconds: number[] = [];
  const directSeconds: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    let started = performance.now();
    await sink.write(items);
    sinkSeconds.push((performance.now() - started) / 1000);

    started = performance.now();
    const buffer = parquetWriteBuffer({ columnData, ...encoding });
    writeFileSync(path.join(directDir, `direct${round}.parquet`), new Uint8Array(buffer));
    directSeconds.push((performance.now() - started) / 1000);
  }
  const ours = rows / median(sinkSeconds);
  const direct = rows / median(directSeconds);
  const ratio = ours / direct;
  return [
    `hyparquet-writer direct (ceiling)   ${direct.toFixed(0).padStart(7)} rows/s  ${(directorySize(directDir) / (rows * rounds)).toFixed(1)} bytes/row`,
    `our Parquet sink (atomic, fsync)    ${ours.toFixed(0).padStart(7)} rows/s  ${(directorySize(sinkDir) / (rows * rounds)).toFixed(1)} bytes/row` +
      `  ratio ${ratio.toFixed(2)}  (goal >= 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'})`,
  ];
}
