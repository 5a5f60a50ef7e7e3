/**
 * The segment being appended to. Records become visible to readers (its `info.size` grows)
 * only once they are written and, when asked, synced: readers never see a record that a crash
 * could still take back.
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, writeFully } from '../durable-files.js';
import { segmentFileName, type SegmentInfo } from './segments.js';

/** Segments hold personal data (whole envelopes): readable by the module's user only. */
const JOURNAL_FILE_MODE = 0o600;

export class SegmentWriter {
  private constructor(
    readonly info: SegmentInfo,
    private readonly handle: FileHandle,
    /** The seq the next record must carry: records in one segment are consecutive. */
    public nextSeq: number,
  ) {}

  /** Creates the segment starting at `firstSeq`; `durable` also syncs the directory entry. */
  static async create(directory: string, firstSeq: number, durable: boolean): Promise<SegmentWriter> {
    const file = path.join(directory, segmentFileName(firstSeq));
    const handle = await open(file, 'wx', JOURNAL_FILE_MODE);
    if (durable) await fsyncDirectory(directory);
    return new SegmentWriter({ firstSeq, path: file, size: 0, sealed: false }, handle, firstSeq);
  }

  /** Continues a recovered segment whose good records end at `info.size`, the last being `lastSeq`. */
  static async resume(info: SegmentInfo, lastSeq: number): Promise<SegmentWriter> {
    const handle = await open(info.path, 'r+');
    info.sealed = false;
    return new SegmentWriter(info, handle, Math.max(lastSeq + 1, info.firstSeq));
  }

  /** Whether `bytes` more would take a non-empty segment past `limit`. */
  isFullFor(bytes: number, limit: number): boolean {
    return this.info.size > 0 && this.info.size + bytes > limit;
  }

  /** Writes after the last committed record (over anything a failed write left there). */
  async write(records: Buffer): Promise<void> {
    await writeFully(this.handle, records, this.info.size);
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  /** Makes the records just written visible to readers. */
  commit(bytes: number, lastSeq: number): void {
    this.info.size += bytes;
    this.nextSeq = lastSeq + 1;
  }

  /** Cuts what a failed write may have left after the last committed record. */
  async discardUncommitted(): Promise<void> {
    await this.handle.truncate(this.info.size);
  }

  async seal(): Promise<void> {
    this.info.sealed = true;
    this.info.lastSeq = this.nextSeq - 1;
    await this.handle.close();
  }
}
