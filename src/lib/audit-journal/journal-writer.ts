/**
 * The journal's append path: numbers each accepted envelope, group-commits the records (one
 * write and one fdatasync for all that arrive together), and only then makes them visible to
 * cursors and resolves their appends. A failed write or sync refuses its group (503) and
 * leaves no trace of it on disk.
 */
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CommitSignal } from './commit-signal.js';
import { RETRY_AFTER_SECONDS } from './event-log.js';
import { GroupCommitter } from './group-commit.js';
import type { MemoryTail } from './memory-tail.js';
import { encodePayload, encodeRecord } from './record-format.js';
import { SegmentWriter } from './segment-writer.js';
import type { SegmentCatalog, SegmentInfo } from './segments.js';

export type FsyncMode = 'batch' | 'always' | 'never';

export interface JournalWriterSettings {
  directory: string;
  fsync: FsyncMode;
  /** No segment, and so no group commit, holds more bytes than this. */
  segmentLimit: number;
  groupCommitWindowMs: number;
  logger: Logger;
}

/** Where committed entries go: readers see them in the tail and are woken by the signal. */
export interface CommitTargets {
  catalog: SegmentCatalog;
  tail: MemoryTail;
  committed: CommitSignal;
  /** A new segment was started: the one before it may now be released. */
  segmentStarted(): Promise<void>;
  /** Deletes a sealed segment that holds no record. */
  removeEmptySegment(segment: SegmentInfo): Promise<void>;
  /** A write failed: the disk may be full, so free whatever every destination has written. */
  writeFailed(): Promise<void>;
}

interface PendingAppend {
  seq: number;
  envelope: AuditEnvelope;
  destinations?: readonly string[];
  record: Buffer;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

export class JournalWriter {
  private readonly committer: GroupCommitter<PendingAppend>;
  /** Highest seq given to an append; numbering continues after it. */
  private assignedSeq: number;
  /** Bytes of appends accepted but not yet written: they count against maxBytes. */
  private pending = 0;
  private readonly counters = { commits: 0, syncs: 0 };

  constructor(
    private readonly settings: JournalWriterSettings,
    private readonly targets: CommitTargets,
    /** The segment recovered at open, continued by the first commit. */
    private segment: SegmentWriter | null,
    firstFreeSeq: number,
  ) {
    this.assignedSeq = firstFreeSeq;
    this.committer = new GroupCommitter((group) => this.commit(group), {
      windowMs: settings.fsync === 'batch' ? settings.groupCommitWindowMs : 0,
      maxGroup: settings.fsync === 'always' ? 1 : Infinity,
      // A group fits in one segment, so a burst cannot make one segment of the whole journal.
      maxGroupBytes: settings.segmentLimit,
      sizeOf: (append) => append.record.length,
    });
  }

  /** Bytes accepted and not yet written. */
  get pendingBytes(): number {
    return this.pending;
  }

  get lastAssignedSeq(): number {
    return this.assignedSeq;
  }

  get stats(): { commits: number; syncs: number } {
    return { ...this.counters };
  }

  /** The segment being written, if any. */
  get activeSegment(): SegmentWriter | null {
    return this.segment;
  }

  /**
   * Resolves with the seq once the record is written (and synced, per fsync mode). With
   * `destinations`, only those read it (a replay from a dead-letter file).
   */
  append(envelope: AuditEnvelope, destinations?: readonly string[]): Promise<number> {
    const seq = this.assignedSeq + 1;
    const record = encodeRecord(seq, encodePayload(envelope, destinations));
    this.assignedSeq = seq;
    this.pending += record.length;
    return new Promise((resolve, reject) =>
      this.committer.add({ seq, envelope, destinations, record, resolve, reject }),
    );
  }

  /** Seqs up to `seq` are taken (a destination holds them already): new appends get higher ones. */
  continueNumberingAfter(seq: number): void {
    if (seq <= this.assignedSeq) return;
    this.settings.logger.warn(
      `a destination is at #${seq}, beyond the journal's last #${this.assignedSeq}: numbering continues after #${seq}`,
    );
    this.assignedSeq = seq;
  }

  /**
   * Seals and forgets the segment being written when `canRelease` says every destination is
   * past it and nothing is being written to it; returns it so the caller can delete it.
   */
  async detachActiveSegment(canRelease: (lastSeq: number) => boolean): Promise<SegmentWriter | null> {
    const segment = this.segment;
    if (!segment || this.pending > 0 || segment.info.size === 0) return null;
    if (!canRelease(segment.nextSeq - 1)) return null;
    this.segment = null;
    await segment.seal();
    return segment;
  }

  /** Commits everything accepted so far, then closes the segment file. */
  async close(): Promise<void> {
    await this.committer.drain();
    await this.segment?.seal();
    this.segment = null;
  }

  /** Writes one group with one write and (per fsync mode) one fdatasync, then settles it. Never rejects. */
  private async commit(group: PendingAppend[]): Promise<void> {
    const records = Buffer.concat(group.map((append) => append.record));
    const lastSeq = group[group.length - 1].seq;
    try {
      const segment = await this.segmentFor(group[0].seq, records.length);
      await segment.write(records);
      if (this.settings.fsync !== 'never') {
        await segment.sync();
        this.counters.syncs += 1;
      }
      segment.commit(records.length, lastSeq);
      this.counters.commits += 1;
    } catch (error) {
      await this.abandon(group, error);
      return;
    } finally {
      this.pending -= records.length;
    }
    this.publish(group);
  }

  /** The segment this group goes into: a new one when the current is full or the seqs do not follow on. */
  private async segmentFor(firstSeq: number, bytes: number): Promise<SegmentWriter> {
    if (
      this.segment &&
      (this.segment.nextSeq !== firstSeq || this.segment.isFullFor(bytes, this.settings.segmentLimit))
    ) {
      const previous = this.segment;
      this.segment = null;
      await previous.seal();
      // Empty after an abandoned write (a full disk): its name holds seqs that were never used.
      if (previous.info.size === 0) await this.targets.removeEmptySegment(previous.info);
    }
    if (!this.segment) {
      this.segment = await SegmentWriter.create(
        this.settings.directory,
        firstSeq,
        this.settings.fsync !== 'never',
      );
      this.targets.catalog.add(this.segment.info);
      // Only now is the segment just sealed not the last: it may go if every destination is past it.
      await this.targets.segmentStarted();
    }
    return this.segment;
  }

  private publish(group: PendingAppend[]): void {
    for (const append of group) {
      const { seq, envelope, destinations } = append;
      this.targets.tail.push(
        destinations ? { seq, envelope, destinations } : { seq, envelope },
        append.record.length,
      );
    }
    this.targets.committed.advance(group[group.length - 1].seq);
    for (const append of group) append.resolve(append.seq);
  }

  /**
   * A failed write or sync: the group is refused (503, the client retries), whatever it left
   * after the last good record is cut, and its seqs are never used, so the next group starts
   * a new segment (segmentFor) and no segment ever holds a gap.
   */
  private async abandon(group: PendingAppend[], error: unknown): Promise<void> {
    this.settings.logger.error(
      `journal write failed (${errorMessage(error)}): ${group.length} event(s) refused`,
    );
    await this.segment?.discardUncommitted().catch(() => undefined);
    await this.targets.writeFailed();
    const refusal = new ServiceUnavailableError(
      `journal write failed: ${errorMessage(error)}`,
      RETRY_AFTER_SECONDS,
    );
    for (const append of group) append.reject(refusal);
  }
}
