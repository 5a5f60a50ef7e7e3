/**
 * How a cursor that fell behind the in-memory tail reads entries back from the segment files:
 * sequentially, a chunk at a time, keeping its place between calls so that catching up over
 * many calls reads each byte once.
 *
 * A damaged record in a segment (one that was synced and sealed, so the disk itself returned
 * bad data) ends the reading of that segment: after a bad length nothing marks where the next
 * record starts, and guessing could replay garbage. The rest of that segment is skipped,
 * loudly, and reading goes on with the next one, so one bad sector never stops the journal.
 */
import { errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LogEntry } from './event-log.js';
import { decodePayload, type DecodedRecord } from './record-format.js';
import { SegmentReader } from './segment-reader.js';
import type { SegmentCatalog, SegmentInfo } from './segments.js';

export interface CatchUpReaderOptions {
  destinationId: string;
  chunkBytes: number;
  logger: Logger;
}

export class CatchUpReader {
  private reader: SegmentReader | null = null;
  /** The seq the reader's position follows: a read after it needs no seek. */
  private position: number | null = null;

  constructor(
    private readonly catalog: SegmentCatalog,
    private readonly options: CatchUpReaderOptions,
  ) {}

  /** Up to `max` entries with a seq above `after`, from disk; [] when the files hold none. */
  async read(after: number, max: number): Promise<LogEntry[]> {
    if (this.position !== after) await this.moveTo(this.catalog.segmentFor(after + 1));
    this.position = after;
    while (this.reader) {
      const { records, status } = await this.reader.read(max);
      const entries = this.toEntries(records.filter((record) => record.seq > after));
      if (status === 'damaged') this.reportDamage(this.reader);
      if (status === 'end' || status === 'damaged') {
        await this.moveTo(this.catalog.after(this.reader.segment));
      }
      if (entries.length > 0) {
        this.position = entries[entries.length - 1].seq;
        return entries;
      }
      if (status === 'caught-up') return [];
    }
    this.position = null;
    return [];
  }

  async close(): Promise<void> {
    await this.moveTo(undefined);
  }

  private async moveTo(segment: SegmentInfo | undefined): Promise<void> {
    await this.reader?.close();
    this.reader = null;
    for (let next = segment; next; next = this.catalog.after(next)) {
      try {
        this.reader = await SegmentReader.open(next, this.options.chunkBytes);
        return;
      } catch (error) {
        // Deleted meanwhile: every destination was past it, so the next one is the place to go.
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
  }

  private toEntries(records: DecodedRecord[]): LogEntry[] {
    const entries: LogEntry[] = [];
    for (const record of records) {
      try {
        entries.push({ seq: record.seq, ...decodePayload(record.payload) });
      } catch (error) {
        // The CRC matched, so these are the bytes that were appended; they can only be skipped.
        this.options.logger.error(
          `journal entry #${record.seq} is not valid JSON (${errorMessage(error)}); skipped for ${this.options.destinationId}`,
        );
      }
    }
    return entries;
  }

  private reportDamage(reader: SegmentReader): void {
    const next = this.catalog.after(reader.segment);
    const lost = next ? `entries up to #${next.firstSeq - 1}` : 'the entries after it';
    this.options.logger.error(
      `journal segment ${reader.segment.path} is damaged at byte ${reader.goodBytes} (${reader.problem}); ` +
        `the rest of it is skipped for ${this.options.destinationId}: ${lost} are lost`,
    );
  }
}
