/**
 * The durable write-ahead journal (SPEC 6): the EventLog behind the 202. An append resolves
 * only once its record is written (and, with fsync 'batch' or 'always', synced) to a segment
 * file; each destination reads through its own cursor and checkpoint; a segment is deleted
 * once every destination's persisted checkpoint is past it.
 *
 * On disk, in `directory`:
 *   0000000000000001.seg      records #1.. (record-format.ts), named after their first seq
 *   0000000000004711.seg      the next segment, and so on; the last one is being written
 *   checkpoints.json          each destination's checkpoint (checkpoints.ts)
 *   journal-id                this journal's identity (journal-id.ts)
 */
import { mkdir, unlink } from 'node:fs/promises';
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { CatchUpReader } from './catch-up-reader.js';
import { CheckpointStore, readCheckpoints } from './checkpoints.js';
import { RETRY_AFTER_SECONDS, type EventLog, type LogBacklog, type OpenCursorOptions } from './event-log.js';
import { GroupCommitter } from './group-commit.js';
import { JournalCursor, type CursorSource } from './journal-cursor.js';
import { readOrCreateJournalId } from './journal-id.js';
import { MemoryTail } from './memory-tail.js';
import { encodePayload, encodeRecord } from './record-format.js';
import { recoverSegments, type RecoveredSegments, type TailCut } from './recovery.js';
import { SegmentWriter } from './segment-writer.js';
import type { SegmentCatalog, SegmentInfo } from './segments.js';

export type FsyncMode = 'batch' | 'always' | 'never';

export interface JournalOptions {
  directory: string;
  /** Segment bytes at which appends are refused (503) until destinations catch up. */
  maxBytes: number;
  fsync: FsyncMode;
  /** Every destination that will read the journal: their checkpoints decide what may be deleted. */
  destinationIds: string[];
  logger: Logger;
  /** Size at which a new segment is started (capped at maxBytes / 4, see segmentLimit). */
  segmentBytes?: number;
  /** How long an append waits for others to share its write and fdatasync (fsync 'batch'). */
  groupCommitWindowMs?: number;
  /** Recent entries kept in memory for cursors that keep up. */
  tailEntries?: number;
  tailBytes?: number;
  /** Bytes a cursor that fell behind reads from disk at once. */
  readChunkBytes?: number;
  /** Least time between two checkpoint saves. */
  checkpointIntervalMs?: number;
}

export interface JournalStats {
  segments: number;
  bytes: number;
  /** First seq of the oldest segment on disk, null without segments. */
  oldestSeq: number | null;
  lastSeq: number;
  /** Group commits written, and fdatasync calls made for them. */
  commits: number;
  syncs: number;
}

const DEFAULTS = {
  segmentBytes: 64 * 1024 * 1024,
  groupCommitWindowMs: 2,
  tailEntries: 10_000,
  tailBytes: 16 * 1024 * 1024,
  readChunkBytes: 1024 * 1024,
  checkpointIntervalMs: 100,
};

type Settings = JournalOptions & typeof DEFAULTS;

interface PendingAppend {
  seq: number;
  envelope: AuditEnvelope;
  record: Buffer;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

export async function openJournal(options: JournalOptions): Promise<Journal> {
  const settings: Settings = { ...DEFAULTS, ...withoutUndefined(options) };
  await mkdir(settings.directory, { recursive: true });
  const id = await readOrCreateJournalId(settings.directory, settings.logger);
  const recovered = await recoverSegments(settings.directory, settings.readChunkBytes);
  const checkpoints = await readCheckpoints(settings.directory, settings.destinationIds, settings.logger);
  const last = recovered.catalog.last;
  const writer = last ? await SegmentWriter.resume(last, recovered.lastSeq) : null;
  const journal = new Journal(id, settings, recovered, checkpoints, writer);
  await journal.releaseSegments();
  logOpened(settings, recovered.cut, journal);
  return journal;
}

export class Journal implements EventLog, CursorSource {
  readonly tail: MemoryTail;
  private readonly catalog: SegmentCatalog;
  private readonly checkpoints: CheckpointStore;
  private readonly committer: GroupCommitter<PendingAppend>;
  private readonly cursors = new Map<string, JournalCursor>();
  private waiters: Array<() => void> = [];
  /** Highest seq given to an append; numbering continues after it. */
  private assignedSeq: number;
  /** Highest seq written (and synced) with its record: what readers may see. */
  private committedSeq: number;
  /** Bytes of appends accepted but not yet written: they count against maxBytes. */
  private pendingBytes = 0;
  private closing: Promise<void> | null = null;
  private readonly counters = { commits: 0, syncs: 0 };

  /** @internal use openJournal() */
  constructor(
    readonly id: string,
    private readonly settings: Settings,
    recovered: RecoveredSegments,
    checkpoints: Map<string, number>,
    private writer: SegmentWriter | null,
  ) {
    this.catalog = recovered.catalog;
    this.committedSeq = recovered.lastSeq;
    // A destination may be ahead of the segments (records lost with fsync 'never'): never reuse its seqs.
    this.assignedSeq = Math.max(recovered.lastSeq, ...checkpoints.values());
    this.tail = new MemoryTail(this.committedSeq, {
      maxEntries: settings.tailEntries,
      maxBytes: settings.tailBytes,
    });
    this.checkpoints = new CheckpointStore(checkpoints, {
      directory: settings.directory,
      intervalMs: settings.checkpointIntervalMs,
      logger: settings.logger,
      onPersisted: () => this.releaseSegments(),
    });
    this.committer = new GroupCommitter((group) => this.commit(group), {
      windowMs: settings.fsync === 'batch' ? settings.groupCommitWindowMs : 0,
      maxGroup: settings.fsync === 'always' ? 1 : Infinity,
      // A group fits in one segment, so a burst cannot make one segment of the whole journal.
      maxGroupBytes: this.segmentLimit,
      sizeOf: (append) => append.record.length,
    });
  }

  get lastSeq(): number {
    return this.committedSeq;
  }

  async append(envelope: AuditEnvelope): Promise<number> {
    if (this.usedBytes >= this.settings.maxBytes) await this.releaseAckedActiveSegment();
    this.refuseWhenUnavailable();
    const record = encodeRecord(this.assignedSeq + 1, encodePayload(envelope));
    this.assignedSeq += 1;
    this.pendingBytes += record.length;
    const seq = this.assignedSeq;
    return new Promise((resolve, reject) => this.committer.add({ seq, envelope, record, resolve, reject }));
  }

  /** One cursor per configured destination, starting after max(its checkpoint, `atLeast`). */
  openCursor(destinationId: string, options: OpenCursorOptions = {}): JournalCursor {
    if (!this.checkpoints.has(destinationId)) {
      throw new Error(
        `the journal has no destination '${destinationId}' (configured: ${this.settings.destinationIds.join(', ') || 'none'})`,
      );
    }
    if (this.cursors.has(destinationId)) {
      throw new Error(`a journal cursor for '${destinationId}' is already open`);
    }
    const start = Math.max(this.checkpoints.get(destinationId), options.atLeast ?? 0);
    if (start > this.checkpoints.get(destinationId)) this.checkpoints.set(destinationId, start);
    this.continueNumberingAfter(start);
    const disk = new CatchUpReader(this.catalog, {
      destinationId,
      chunkBytes: this.settings.readChunkBytes,
      logger: this.settings.logger,
    });
    const cursor = new JournalCursor(destinationId, start, this, disk, this.settings.logger);
    this.cursors.set(destinationId, cursor);
    return cursor;
  }

  backlog(): LogBacklog {
    const lowest = this.checkpoints.lowest();
    return {
      kind: 'journal',
      entries: lowest === Infinity ? 0 : Math.max(0, this.committedSeq - lowest),
      capacity: this.settings.maxBytes,
      lastSeq: this.committedSeq,
      checkpoints: this.checkpoints.all(),
      bytes: this.catalog.totalBytes,
    };
  }

  stats(): JournalStats {
    return {
      segments: this.catalog.all.length,
      bytes: this.catalog.totalBytes,
      oldestSeq: this.catalog.all[0]?.firstSeq ?? null,
      lastSeq: this.committedSeq,
      ...this.counters,
    };
  }

  /**
   * Commits what was accepted, wakes waiting cursors with [], saves checkpoints, closes files.
   * Acks that arrive later (destinations flushing after the log closed) are still saved.
   */
  close(): Promise<void> {
    this.closing ??= this.closeFiles();
    return this.closing;
  }

  /** Saves the checkpoints now; for acks that arrive after close(). */
  flushCheckpoints(): Promise<void> {
    return this.checkpoints.flush();
  }

  /** @internal CursorSource */
  async waitForEntriesAfter(seq: number): Promise<boolean> {
    while (!this.closing && seq >= this.committedSeq) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return !this.closing;
  }

  /** @internal CursorSource */
  checkpointMoved(destinationId: string, checkpoint: number): void {
    this.checkpoints.set(destinationId, checkpoint);
  }

  /** @internal deletes the segments every destination's persisted checkpoint (by default) has passed. */
  async releaseSegments(checkpoint = this.checkpoints.lowestPersisted()): Promise<void> {
    for (const segment of this.catalog.releasedBy(checkpoint)) {
      await this.deleteSegment(segment);
    }
  }

  /**
   * The segment being written is never released (nothing bounds it) and only an accepted
   * append starts the next one: so when it alone keeps the journal full while every
   * destination's saved checkpoint is past it, it is sealed and deleted here, or the journal
   * would stay full forever. Numbering goes on after the saved checkpoints, also after a restart.
   */
  private async releaseAckedActiveSegment(): Promise<void> {
    const writer = this.writer;
    // Appends pending: a commit may be writing to it, and their acks will come.
    if (!writer || this.closing || this.pendingBytes > 0 || writer.info.size === 0) return;
    if (writer.nextSeq - 1 > this.checkpoints.lowestPersisted()) return;
    this.writer = null;
    await writer.seal();
    await this.deleteSegment(writer.info);
  }

  private async deleteSegment(segment: SegmentInfo): Promise<void> {
    try {
      await unlink(segment.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.settings.logger.warn(
          `could not delete journal segment ${segment.path}: ${errorMessage(error)}; retrying later`,
        );
        return;
      }
    }
    this.catalog.remove(segment);
    this.settings.logger.debug(`journal segment ${segment.path} deleted: every destination is past it`);
  }

  /** Bytes that count against maxBytes: on disk, and accepted but not yet written. */
  private get usedBytes(): number {
    return this.catalog.totalBytes + this.pendingBytes;
  }

  private refuseWhenUnavailable(): void {
    if (this.closing) {
      throw new ServiceUnavailableError('the journal is closed (shutting down)', RETRY_AFTER_SECONDS);
    }
    const bytes = this.usedBytes;
    if (bytes < this.settings.maxBytes) return;
    throw new ServiceUnavailableError(
      `the journal is full: ${bytes} bytes of journal.maxBytes ${this.settings.maxBytes} wait for ` +
        `destinations (slowest checkpoint #${this.checkpoints.lowest()}, last #${this.committedSeq})`,
      RETRY_AFTER_SECONDS,
    );
  }

  /** Seqs up to `seq` are taken (a destination holds them already): new appends get higher ones. */
  private continueNumberingAfter(seq: number): void {
    if (seq <= this.assignedSeq) return;
    this.settings.logger.warn(
      `a destination is at #${seq}, beyond the journal's last #${this.assignedSeq}: numbering continues after #${seq}`,
    );
    this.assignedSeq = seq;
  }

  /** Writes one group with one write and (per fsync mode) one fdatasync, then settles it. Never rejects. */
  private async commit(group: PendingAppend[]): Promise<void> {
    const records = Buffer.concat(group.map((append) => append.record));
    const lastSeq = group[group.length - 1].seq;
    try {
      const writer = await this.writerFor(group[0].seq, records.length);
      await writer.write(records);
      if (this.settings.fsync !== 'never') {
        await writer.sync();
        this.counters.syncs += 1;
      }
      writer.commit(records.length, lastSeq);
      this.counters.commits += 1;
    } catch (error) {
      await this.abandonWrite(group, error);
      return;
    } finally {
      this.pendingBytes -= records.length;
    }
    this.publish(group);
  }

  /** The segment this group goes into: a new one when the current is full or the seqs do not follow on. */
  private async writerFor(firstSeq: number, bytes: number): Promise<SegmentWriter> {
    if (
      this.writer &&
      (this.writer.nextSeq !== firstSeq || this.writer.isFullFor(bytes, this.segmentLimit))
    ) {
      await this.writer.seal();
      this.writer = null;
    }
    if (!this.writer) {
      this.writer = await SegmentWriter.create(
        this.settings.directory,
        firstSeq,
        this.settings.fsync !== 'never',
      );
      this.catalog.add(this.writer.info);
      // Only now is the segment just sealed not the last: it may go if every destination is past it.
      await this.releaseSegments();
    }
    return this.writer;
  }

  /**
   * A segment (and so a group commit) never holds more than a quarter of maxBytes, so a full
   * journal is mostly sealed segments, which acks free; not the segment being written (but see
   * releaseAckedActiveSegment).
   */
  private get segmentLimit(): number {
    return Math.max(1, Math.min(this.settings.segmentBytes, Math.floor(this.settings.maxBytes / 4)));
  }

  private publish(group: PendingAppend[]): void {
    for (const append of group) {
      this.tail.push({ seq: append.seq, envelope: append.envelope }, append.record.length);
    }
    this.committedSeq = group[group.length - 1].seq;
    this.wakeReaders();
    for (const append of group) append.resolve(append.seq);
  }

  /**
   * A failed write or sync: the group is refused (503, the client retries), whatever it left
   * after the last good record is cut, and its seqs are never used, so the next group starts
   * a new segment (writerFor) and no segment ever holds a gap.
   */
  private async abandonWrite(group: PendingAppend[], error: unknown): Promise<void> {
    this.settings.logger.error(
      { err: errorMessage(error), seqs: [group[0].seq, group[group.length - 1].seq] },
      `journal write failed (${errorMessage(error)}): ${group.length} event(s) refused`,
    );
    await this.writer?.discardUncommitted().catch(() => undefined);
    // The disk may be full, and then no checkpoint can be saved either: free what every
    // destination has written, saved or not, or the journal stays full for good. Nothing is
    // lost: a restart replays less, from the next segment on.
    await this.releaseSegments(this.checkpoints.lowest());
    const refusal = new ServiceUnavailableError(
      `journal write failed: ${errorMessage(error)}`,
      RETRY_AFTER_SECONDS,
    );
    for (const append of group) append.reject(refusal);
  }

  private wakeReaders(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async closeFiles(): Promise<void> {
    await this.committer.drain();
    this.wakeReaders();
    await Promise.all([...this.cursors.values()].map((cursor) => cursor.close()));
    await this.checkpoints.flush();
    await this.writer?.seal();
    this.writer = null;
  }
}

/** The one line that says what the journal found at open. */
function logOpened(settings: Settings, cut: TailCut | null, journal: Journal): void {
  const { segments, bytes, oldestSeq, lastSeq } = journal.stats();
  const entries = oldestSeq === null ? 0 : Math.max(0, lastSeq - oldestSeq + 1);
  const { checkpoints } = journal.backlog();
  const message =
    `journal ${settings.directory}: ${segments} segment(s), ${entries} entries` +
    `${entries > 0 ? ` (#${oldestSeq}..#${lastSeq})` : ''}, ${bytes} bytes; ` +
    `checkpoints ${describeCheckpoints(checkpoints)}; ${describeCut(cut)}`;
  const fields = { directory: settings.directory, segments, entries, bytes, lastSeq, checkpoints, cut };
  if (cut) settings.logger.warn(fields, message);
  else settings.logger.info(fields, message);
}

function describeCheckpoints(checkpoints: Record<string, number>): string {
  const described = Object.entries(checkpoints).map(([id, seq]) => `${id}=#${seq}`);
  return described.join(' ') || 'none';
}

function describeCut(cut: TailCut | null): string {
  if (!cut) return 'no damaged tail';
  return `cut ${cut.bytes} byte(s) of torn or damaged tail from ${cut.file} at byte ${cut.offset} (${cut.reason})`;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
