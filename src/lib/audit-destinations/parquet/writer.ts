/**
 * The Parquet destination: a sink that writes each batch as one part file per UTC event date
 * (docs/parquet.md). Batching, retries and dead letters are the delivery loop's.
 *
 * A file appears atomically and never replaces another: its bytes go to a hidden temporary
 * file in the same directory, are fsynced, and the file is published with link(), which,
 * unlike rename(), fails with EEXIST instead of overwriting. Several sinks and several
 * processes can therefore share one directory: a taken part number just moves to the next.
 */
import { link, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer, type ParquetWriteOptions } from 'hyparquet-writer';
import type { AuditRecord } from '../../audit-events/types.js';
import type { ParquetConfig } from '../../config/schema.js';
import { fsyncDirectory, writeNewFileDurably } from '../../durable-files.js';
import { RefusedBatchError, TransientError, errorCode, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { removeStaleTempFiles } from '../../stale-temp-files.js';
import type { AuditDestination } from '../destination.js';
import {
  allWritten,
  writtenUntil,
  type BatchItem,
  type Rejection,
  type Sink,
  type WriteResult,
} from '../sink.js';
import {
  isPartFileDate,
  parsePartFileName,
  partFileName,
  tempFileName,
  tempFileOwner,
} from './part-files.js';
import { PARQUET_LAYOUT_VERSION, staticTagsJson, toParquetColumnData } from './schema.js';
import { formatSeqRange, highestWrittenSeq, LOG_ID_KEY, SEQ_RANGE_KEY } from './written-seqs.js';

const PARQUET_CREATED_BY = 'butler-sos-audit-events';
const LAYOUT_VERSION_KEY = 'butler-sos.audit.layoutVersion';

export interface ParquetDestinationDeps {
  logger: Logger;
  /** Where a relative exportDirectory is resolved from (default: the working directory). */
  baseDir?: string;
  /** The event log whose sequence numbers the files record; without it none are resumed from. */
  logId?: string;
}

type EncodingOptions = Pick<ParquetWriteOptions, 'codec' | 'compressors' | 'rowGroupSize'>;

export interface ParquetPartFileSinkOptions {
  directory: string;
  encoding: EncodingOptions;
  /** Value of the `tags` column for every row. */
  tagsJson: string | null;
  logger: Logger;
  /** Recorded next to each file's sequence range. */
  logId?: string;
}

export function encodingOptionsFrom(
  config: Pick<ParquetConfig, 'compression' | 'rowGroupSize'>,
): EncodingOptions {
  const rowGroup = config.rowGroupSize === undefined ? {} : { rowGroupSize: config.rowGroupSize };
  switch (config.compression) {
    case 'snappy':
      return { codec: 'SNAPPY', ...rowGroup };
    case 'none':
      return { codec: 'UNCOMPRESSED', ...rowGroup };
    case 'gzip':
      // hyparquet-writer only ships snappy; gzip comes from node:zlib.
      return { codec: 'GZIP', compressors: { GZIP: (input) => gzipSync(input) }, ...rowGroup };
  }
}

/** `"<min>-<max>"` of the items' log sequence numbers, or null when they have none. */
function seqRange(items: BatchItem<AuditRecord>[]): string | null {
  let min = Infinity;
  let max = -Infinity;
  for (const { seq } of items) {
    if (seq === undefined) continue;
    min = Math.min(min, seq);
    max = Math.max(max, seq);
  }
  // A loop, not Math.min(...seqs): a batch may hold more items than a call has arguments.
  return min === Infinity ? null : formatSeqRange(min, max);
}

/**
 * The batch cut into runs of consecutive rows with the same `date`, in batch order. Rows come
 * in log order, so each file then holds a contiguous range of log sequence numbers, and the
 * highest range found in the directory after a crash says exactly which rows are written.
 * (Grouping all rows of a date together would put seqs 1, 3, 5 in one file and 2, 4 in the
 * next when late events straddle midnight; a crash between the two would then skip 2 and 4.)
 */
function runsByDate(
  batch: readonly BatchItem<AuditRecord>[],
): Array<{ date: string; items: BatchItem<AuditRecord>[] }> {
  const runs: Array<{ date: string; items: BatchItem<AuditRecord>[] }> = [];
  for (const item of batch) {
    const last = runs.at(-1);
    if (last?.date === item.value.date) last.items.push(item);
    else runs.push({ date: item.value.date, items: [item] });
  }
  return runs;
}

/** Writes each batch as one part file per UTC date; knows nothing of batching or retries. */
export class ParquetPartFileSink implements Sink {
  /** Next part number to try per date; a guess that link() confirms or moves past. */
  private readonly nextPartByDate = new Map<string, number>();
  /** Files encoded ahead by prepare(), by their first row; used when write() gets the same rows. */
  private readonly prepared = new WeakMap<
    BatchItem<AuditRecord>,
    { last: BatchItem<AuditRecord>; bytes: Uint8Array }
  >();

  constructor(private readonly options: ParquetPartFileSinkOptions) {}

  /**
   * A batch across midnight writes several files. When one fails, the earlier ones are
   * already published: the result keeps only the rows from the failed file on, so no row is
   * written twice. A row whose date cannot name a file is rejected on its own.
   */
  async write(batch: readonly BatchItem<AuditRecord>[]): Promise<WriteResult> {
    const rejected: Rejection[] = [];
    let handled = 0;
    for (const { date, items } of runsByDate(batch)) {
      if (!isPartFileDate(date)) {
        // The date becomes part of a file name: nothing else may reach the path.
        rejected.push(...items.map((item) => ({ item, reason: `not a YYYYMMDD date: '${date}'` })));
      } else {
        try {
          await this.writeDateFile(date, items);
        } catch (error) {
          return { ...writtenUntil(batch, handled, error), rejected };
        }
      }
      handled += items.length;
    }
    return rejected.length === 0 ? allWritten() : { rejected, kept: [] };
  }

  /** Encodes the files of a batch read ahead while the batch before it is written. */
  prepare(batch: readonly BatchItem<AuditRecord>[]): void {
    for (const { date, items } of runsByDate(batch)) {
      if (!isPartFileDate(date)) continue;
      try {
        this.prepared.set(items[0], { last: items[items.length - 1], bytes: this.encode(items) });
      } catch {
        // write() encodes it again and reports why.
      }
    }
  }

  async close(): Promise<void> {}

  /** The file of these rows: encoded ahead when prepare() saw exactly them, else now. */
  private bytesOf(items: BatchItem<AuditRecord>[]): Uint8Array {
    const prepared = this.prepared.get(items[0]);
    if (prepared?.last === items[items.length - 1]) return prepared.bytes;
    return this.encode(items);
  }

  private async writeDateFile(date: string, items: BatchItem<AuditRecord>[]): Promise<void> {
    const bytes = this.bytesOf(items);
    const firstCandidate = await this.nextPart(date);
    const tempPath = path.join(this.options.directory, tempFileName(date, firstCandidate));
    let part: number;
    try {
      await writeNewFileDurably(tempPath, bytes);
      part = await this.publish(tempPath, date, firstCandidate);
    } catch (error) {
      // A full disk, a lost mount, a permission: time or a person may fix it; the rows wait in the log.
      throw new TransientError(
        `could not write a part file in ${this.options.directory}: ${errorMessage(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    } finally {
      await this.removeTempFile(tempPath);
    }
    await this.syncDirectoryAfterPublish();
    this.options.logger.info(`wrote ${partFileName(date, part)} (${items.length} rows)`);
  }

  /** The rows as a Parquet file; whatever fails here is about the rows, not the disk. */
  private encode(items: BatchItem<AuditRecord>[]): Uint8Array {
    try {
      return this.encodeRows(items);
    } catch (error) {
      // The same rows would fail the same way again. The loop narrows the batch down to the
      // row(s) that cannot be encoded and dead-letters them.
      throw new RefusedBatchError(
        `could not encode as Parquet: ${errorMessage(error)}`,
        {},
        { cause: error },
      );
    }
  }

  /** The encoder step: column mapping and hyparquet-writer (public so that a test can fault it). */
  encodeRows(items: BatchItem<AuditRecord>[]): Uint8Array {
    const range = seqRange(items);
    const kvMetadata = [
      { key: LAYOUT_VERSION_KEY, value: PARQUET_LAYOUT_VERSION },
      ...(range === null ? [] : [{ key: SEQ_RANGE_KEY, value: range }]),
      ...(range === null || this.options.logId === undefined
        ? []
        : [{ key: LOG_ID_KEY, value: this.options.logId }]),
    ];
    const buffer = parquetWriteBuffer({
      columnData: toParquetColumnData(
        items.map((item) => item.value),
        { tagsJson: this.options.tagsJson },
      ),
      ...this.options.encoding,
      kvMetadata,
      createdBy: PARQUET_CREATED_BY,
    });
    return new Uint8Array(buffer);
  }

  /** Links the temp file under the first free part number and returns that number. */
  private async publish(tempPath: string, date: string, firstCandidate: number): Promise<number> {
    for (let part = firstCandidate; ; part++) {
      try {
        await link(tempPath, path.join(this.options.directory, partFileName(date, part)));
        this.nextPartByDate.set(date, part + 1);
        return part;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error; // taken by another writer: try the next
      }
    }
  }

  private async nextPart(date: string): Promise<number> {
    const known = this.nextPartByDate.get(date);
    if (known !== undefined) return known;
    const next = (await this.highestPartOnDisk(date)) + 1;
    this.nextPartByDate.set(date, next);
    return next;
  }

  private async highestPartOnDisk(date: string): Promise<number> {
    let highest = 0;
    for (const name of await readdir(this.options.directory)) {
      const parsed = parsePartFileName(name);
      if (parsed?.date === date) highest = Math.max(highest, parsed.part);
    }
    return highest;
  }

  /** Once the file is published its rows are written: a cleanup failure must not make the loop write them again. */
  private async removeTempFile(tempPath: string): Promise<void> {
    try {
      await rm(tempPath, { force: true });
    } catch (error) {
      this.options.logger.warn(
        `could not remove ${path.basename(tempPath)}: ${errorMessage(error)}; it is removed at next start`,
      );
    }
  }

  /** Logged, not thrown, for the same reason: the file is already visible under its name. */
  private async syncDirectoryAfterPublish(): Promise<void> {
    try {
      await fsyncDirectory(this.options.directory);
    } catch (error) {
      this.options.logger.error(`fsync of ${this.options.directory} failed: ${errorMessage(error)}`);
    }
  }
}

/** Builds the Parquet destination: prepares the directory and learns what its files already hold. */
export async function createParquetDestination(
  config: ParquetConfig,
  deps: ParquetDestinationDeps,
): Promise<AuditDestination & { sink: ParquetPartFileSink }> {
  const directory = path.resolve(deps.baseDir ?? process.cwd(), config.exportDirectory);
  await mkdir(directory, { recursive: true });
  await removeStaleTempFiles(directory, tempFileOwner, deps.logger);
  const sink = new ParquetPartFileSink({
    directory,
    encoding: encodingOptionsFrom(config),
    tagsJson: staticTagsJson(config.staticTags),
    logger: deps.logger,
    logId: deps.logId,
  });
  const durableThrough =
    deps.logId === undefined ? 0 : await highestWrittenSeq(directory, deps.logId, deps.logger);
  deps.logger.info(
    `Parquet destination writes to ${directory}; its files hold events up to #${durableThrough}`,
  );
  return {
    id: 'parquet',
    sink,
    maxBatchSize: config.maxBatchSize,
    writeFrequency: config.writeFrequency,
    durableThrough,
    close: () => sink.close(),
  };
}
