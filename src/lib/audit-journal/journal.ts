/**
 * The durable write-ahead journal: the EventLog behind the 202. An append resolves only once
 * its record is written (and, with fsync 'batch' or 'always', synced) to a segment file; each
 * destination reads through its own cursor and checkpoint; a segment is deleted once every
 * destination's persisted checkpoint is past it. docs/journal.md tells the whole story.
 *
 * On disk, in `directory`:
 *   0000000000000001.seg      records #1.. (record-format.ts), named after their first seq
 *   0000000000004711.seg      the next segment, and so on; the last one is being written
 *   checkpoints.json          each destination's checkpoint (checkpoints.ts)
 *   journal-id                this journal's identity (journal-id.ts)
 *   journal.lock              the pid of the process that has it open (journal-lock.ts)
 */
import { mkdir, unlink } from 'node:fs/promises';
import type { AuditEnvelope } from '../audit-events/types.js';
import { ServiceUnavailableError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { CatchUpReader } from './catch-up-reader.js';
import { CheckpointStore, readCheckpoints } from './checkpoints.js';
import { CommitSignal } from './commit-signal.js';
import { RETRY_AFTER_SECONDS, type EventLog, type LogBacklog, type OpenCursorOptions } from './event-log.js';
import { JournalCursor } from './journal-cursor.js';
import { readOrCreateJournalId } from './journal-id.js';
import { lockJournal } from './journal-lock.js';
import { logJournalOpened } from './journal-report.js';
import { JournalWriter, type FsyncMode } from './journal-writer.js';
import { MemoryTail } from './memory-tail.js';
import { recoverSegments, type TailCut } from './recovery.js';
import { SegmentWriter } from './segment-writer.js';
import type { SegmentCatalog, SegmentInfo } from './segments.js';

export type { FsyncMode };

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

export async function openJournal(options: JournalOptions): Promise<Journal> {
  const settings: Settings = { ...DEFAULTS, ...withoutUndefined(options) };
  await mkdir(settings.directory, { recursive: true });
  const unlock = await lockJournal(settings.directory);
  let journal: Journal;
  let cut: TailCut | null;
  try {
    const id = await readOrCreateJournalId(settings.directory, settings.logger);
    const recovered = await recoverSegments(settings.directory, settings.readChunkBytes);
    cut = recovered.cut;
    const checkpoints = await readCheckpoints(settings.directory, settings.destinationIds, settings.logger);
    const last = recovered.catalog.last;
    const segment = last ? await SegmentWriter.resume(last, recovered.lastSeq) : null;
    journal = new Journal(id, settings, recovered.catalog, recovered.lastSeq, checkpoints, segment, unlock);
    await journal.releaseSegments();
  } catch (error) {
    await unlock();
    throw error;
  }
  logJournalOpened(settings, cut, journal.stats(), journal.backlog().checkpoints);
  return journal;
}

export class Journal implements EventLog {
  private readonly committed: CommitSignal;
  private readonly tail: MemoryTail;
  private readonly checkpoints: CheckpointStore;
  private readonly writer: JournalWriter;
  private readonly cursors = new Map<string, JournalCursor>();
  private closing: Promise<void> | null = null;

  /** Use openJournal(), which recovers the directory first. */
  constructor(
    readonly id: string,
    private readonly settings: Settings,
    private readonly catalog: SegmentCatalog,
    lastSeq: number,
    checkpoints: Map<string, number>,
    segment: SegmentWriter | null,
    private readonly unlock: () => Promise<void>,
  ) {
    this.committed = new CommitSignal(lastSeq);
    this.tail = new MemoryTail(lastSeq, { maxEntries: settings.tailEntries, maxBytes: settings.tailBytes });
    this.checkpoints = new CheckpointStore(checkpoints, {
      directory: settings.directory,
      intervalMs: settings.checkpointIntervalMs,
      logger: settings.logger,
      onPersisted: () => this.releaseSegments(),
    });
    // A destination may be ahead of the segments (records lost with fsync 'never'): never reuse its seqs.
    const firstFreeSeq = Math.max(lastSeq, ...checkpoints.values());
    this.writer = new JournalWriter(
      {
        directory: settings.directory,
        fsync: settings.fsync,
        segmentLimit: segmentLimit(settings),
        groupCommitWindowMs: settings.groupCommitWindowMs,
        logger: settings.logger,
      },
      {
        catalog,
        tail: this.tail,
        committed: this.committed,
        segmentStarted: () => this.releaseSegments(),
        removeEmptySegment: (info) => this.deleteSegment(info),
        // The disk may be full, and then no checkpoint can be saved either: free what every
        // destination has written, saved or not, or the journal stays full for good. Nothing
        // is lost: a restart replays less, from the next segment on.
        writeFailed: () => this.releaseSegments(this.checkpoints.lowest()),
      },
      segment,
      firstFreeSeq,
    );
  }

  get lastSeq(): number {
    return this.committed.lastSeq;
  }

  append(envelope: AuditEnvelope): Promise<number> {
    return this.appendWithRoom(envelope);
  }

  /**
   * Appends an event for `destinations` only: a dead-letter record replayed once its cause is
   * fixed, so that the destinations that stored it the first time do not store it again.
   */
  async appendFor(destinations: readonly string[], envelope: AuditEnvelope): Promise<number> {
    const unknown = destinations.filter((id) => !this.checkpoints.has(id));
    if (unknown.length > 0) {
      throw new Error(
        `the journal has no destination ${unknown.join(', ')} (configured: ${this.settings.destinationIds.join(', ') || 'none'})`,
      );
    }
    return this.appendWithRoom(envelope, destinations);
  }

  /** Makes room when the journal is full (or refuses with 503), then appends. */
  private async appendWithRoom(envelope: AuditEnvelope, destinations?: readonly string[]): Promise<number> {
    if (this.usedBytes >= this.settings.maxBytes) await this.releaseAckedActiveSegment();
    this.refuseWhenUnavailable();
    return this.writer.append(envelope, destinations);
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
    this.writer.continueNumberingAfter(start);
    const cursor = new JournalCursor(destinationId, start, {
      committed: this.committed,
      tail: this.tail,
      disk: new CatchUpReader(this.catalog, {
        destinationId,
        chunkBytes: this.settings.readChunkBytes,
        logger: this.settings.logger,
      }),
      checkpointMoved: (checkpoint) => this.checkpoints.set(destinationId, checkpoint),
      logger: this.settings.logger,
    });
    this.cursors.set(destinationId, cursor);
    return cursor;
  }

  backlog(): LogBacklog {
    const lowest = this.checkpoints.lowest();
    return {
      kind: 'journal',
      entries: lowest === Infinity ? 0 : Math.max(0, this.lastSeq - lowest),
      capacity: this.settings.maxBytes,
      lastSeq: this.lastSeq,
      checkpoints: this.checkpoints.all(),
      bytes: this.catalog.totalBytes,
    };
  }

  stats(): JournalStats {
    return {
      segments: this.catalog.all.length,
      bytes: this.catalog.totalBytes,
      oldestSeq: this.catalog.all[0]?.firstSeq ?? null,
      lastSeq: this.lastSeq,
      ...this.writer.stats,
    };
  }

  /**
   * Commits what was accepted, wakes waiting cursors with [], saves checkpoints, closes files.
   * Acks that arrive later (destinations flushing after the log closed) are still saved by
   * flushCheckpoints().
   */
  close(): Promise<void> {
    this.closing ??= this.closeFiles();
    return this.closing;
  }

  /** Saves the checkpoints now. */
  flushCheckpoints(): Promise<void> {
    return this.checkpoints.flush();
  }

  /** Deletes the segments every destination has passed: by its saved checkpoint unless told otherwise. */
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
    if (this.closing) return;
    const released = await this.writer.detachActiveSegment(
      (lastSeq) => lastSeq <= this.checkpoints.lowestPersisted(),
    );
    if (released) await this.deleteSegment(released.info);
  }

  private async deleteSegment(segment: SegmentInfo): Promise<void> {
    try {
      await unlink(segment.path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') {
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
    return this.catalog.totalBytes + this.writer.pendingBytes;
  }

  private refuseWhenUnavailable(): void {
    if (this.closing) {
      throw new ServiceUnavailableError('the journal is closed (shutting down)', RETRY_AFTER_SECONDS);
    }
    const bytes = this.usedBytes;
    if (bytes < this.settings.maxBytes) return;
    throw new ServiceUnavailableError(
      `the journal is full: ${bytes} bytes of journal.maxBytes ${this.settings.maxBytes} wait for ` +
        `destinations (slowest checkpoint #${this.checkpoints.lowest()}, last #${this.lastSeq})`,
      RETRY_AFTER_SECONDS,
    );
  }

  private async closeFiles(): Promise<void> {
    await this.writer.close();
    this.committed.close();
    await Promise.all([...this.cursors.values()].map((cursor) => cursor.close()));
    await this.checkpoints.flush();
    await this.unlock();
  }
}

/**
 * A segment (and so a group commit) never holds more than a quarter of maxBytes, so a full
 * journal is mostly sealed segments, which acks free; not the segment being written (but see
 * releaseAckedActiveSegment).
 */
function segmentLimit(settings: Settings): number {
  return Math.max(1, Math.min(settings.segmentBytes, Math.floor(settings.maxBytes / 4)));
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
