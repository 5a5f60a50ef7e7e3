/**
 * Reads one segment's records in order, a bounded chunk at a time, and stops for good at the
 * first record that is torn, damaged or out of sequence. Used by recovery (to find where the
 * good records end) and by cursors that read from disk.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { HEADER_BYTES, decodeRecordAt, type DecodedRecord } from './record-format.js';
import type { SegmentInfo } from './segments.js';

/**
 * - more: there may be more records now;
 * - caught-up: at the committed end of a segment still being written;
 * - end: at the end of a sealed segment;
 * - damaged: stopped at a bad record (see `problem`); nothing after it is trusted.
 */
export type ReadStatus = 'more' | 'caught-up' | 'end' | 'damaged';

export interface SegmentRead {
  records: DecodedRecord[];
  status: ReadStatus;
}

export class SegmentReader {
  /** Byte offset of the next record: everything before it was read and found good. */
  private offset = 0;
  /**
   * File bytes from `offset` on that were read but not yet handed out: the next read starts
   * with them, so reading a segment `max` records at a time reads each byte once.
   */
  private buffered: Buffer = Buffer.alloc(0);
  private expectedSeq: number;
  /** Where the file turned out to end, once a read came back short. */
  private fileEnd = Infinity;
  /** Why reading stopped, once a bad record was met. */
  problem: string | null = null;

  private constructor(
    readonly segment: SegmentInfo,
    private readonly handle: FileHandle,
    private readonly chunkBytes: number,
  ) {
    this.expectedSeq = segment.firstSeq;
  }

  static async open(segment: SegmentInfo, chunkBytes: number): Promise<SegmentReader> {
    return new SegmentReader(segment, await open(segment.path, 'r'), chunkBytes);
  }

  /** Bytes of good records read so far. */
  get goodBytes(): number {
    return this.offset;
  }

  /** Up to `maxRecords` next records, reading about one chunk of the file when too few are buffered. */
  async read(maxRecords: number): Promise<SegmentRead> {
    if (this.problem !== null) return { records: [], status: 'damaged' };
    const end = this.segment.size;
    if (this.offset >= end) return { records: [], status: this.segment.sealed ? 'end' : 'caught-up' };
    const records: DecodedRecord[] = [];
    while (records.length < maxRecords && this.problem === null) {
      const result = decodeRecordAt(this.buffered, 0);
      if (result.kind === 'record') {
        if (result.record.seq !== this.expectedSeq) {
          this.problem = `sequence gap: expected #${this.expectedSeq}, found #${result.record.seq}`;
          break;
        }
        records.push(result.record);
        this.buffered = this.buffered.subarray(result.record.size);
        this.offset += result.record.size;
        this.expectedSeq += 1;
        continue;
      }
      if (result.kind === 'corrupt') {
        this.problem = result.reason;
        break;
      }
      // The file may be shorter than the catalogue says (cut by hand): its real end wins.
      const left = Math.min(end, this.fileEnd) - this.offset;
      if (left === 0) break;
      const needBytes = result.needBytes ?? HEADER_BYTES;
      if (needBytes > left) {
        this.problem = `torn record: ${left} byte(s) left, ${needBytes} needed`;
        break;
      }
      if (records.length > 0) break; // the next read goes on with what is buffered
      await this.readMore(Math.max(this.chunkBytes, needBytes - this.buffered.length), end);
    }
    return { records, status: this.problem === null ? 'more' : 'damaged' };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** Appends up to `length` bytes after the buffered ones, never past `end`; fewer only at the end of the file. */
  private async readMore(length: number, end: number): Promise<void> {
    const position = this.offset + this.buffered.length;
    const chunk = Buffer.allocUnsafe(Math.min(length, end - position));
    let filled = 0;
    while (filled < chunk.length) {
      const { bytesRead } = await this.handle.read(chunk, filled, chunk.length - filled, position + filled);
      if (bytesRead === 0) {
        this.fileEnd = position + filled;
        break;
      }
      filled += bytesRead;
    }
    this.buffered = Buffer.concat([this.buffered, chunk.subarray(0, filled)]);
  }
}
