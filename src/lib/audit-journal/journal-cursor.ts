/**
 * One destination's cursor over the journal: reads from the in-memory tail while it keeps
 * up, from the segment files when it has fallen behind, and reports checkpoint moves.
 */
import type { Logger } from '../logger.js';
import { AckTracker } from './ack-tracker.js';
import type { CatchUpReader } from './catch-up-reader.js';
import type { CommitSignal } from './commit-signal.js';
import type { Cursor, LogEntry, ReadOptions } from './event-log.js';
import type { MemoryTail } from './memory-tail.js';

export interface JournalCursorSources {
  committed: CommitSignal;
  tail: MemoryTail;
  /** This cursor's own reader of the segment files. */
  disk: CatchUpReader;
  /** Called with the new checkpoint whenever it moves. */
  checkpointMoved(checkpoint: number): void;
  logger: Logger;
}

export class JournalCursor implements Cursor {
  readPosition: number;
  private readonly acks: AckTracker;
  private reading: Promise<LogEntry[]> = Promise.resolve([]);

  constructor(
    readonly destinationId: string,
    start: number,
    private readonly sources: JournalCursorSources,
  ) {
    this.readPosition = start;
    this.acks = new AckTracker(start);
  }

  get checkpoint(): number {
    return this.acks.checkpoint;
  }

  next(max: number, options?: ReadOptions): Promise<LogEntry[]> {
    this.reading = this.readNext(max, options);
    return this.reading;
  }

  ack(seq: number): void {
    if (this.acks.ack(seq)) this.sources.checkpointMoved(this.acks.checkpoint);
  }

  /** Waits for a read in progress, then releases the files this cursor holds. */
  async close(): Promise<void> {
    await this.reading.catch(() => undefined);
    await this.sources.disk.close();
  }

  private async readNext(max: number, options?: ReadOptions): Promise<LogEntry[]> {
    while (await this.sources.committed.waitForBatch(this.readPosition, max, options)) {
      const read = await this.readAfterPosition(max);
      if (read.length === 0) continue;
      this.readPosition = read[read.length - 1].seq;
      let moved = this.acks.handedOut(read.map((entry) => entry.seq));
      // Entries replayed for other destinations only are passed over, as if written.
      const entries: LogEntry[] = [];
      for (const entry of read) {
        if (entry.destinations && !entry.destinations.includes(this.destinationId)) {
          moved = this.acks.ack(entry.seq) || moved;
        } else {
          entries.push(entry);
        }
      }
      if (moved) this.sources.checkpointMoved(this.acks.checkpoint);
      if (entries.length > 0) return entries;
    }
    return [];
  }

  /**
   * Up to `max` entries after the read position: from the segment files while it is below the
   * tail, then from the tail. Disk reads come a chunk at a time, so they are repeated until the
   * batch is full: a loop catching up writes full batches, not one per chunk.
   */
  private async readAfterPosition(max: number): Promise<LogEntry[]> {
    const { tail, disk, logger } = this.sources;
    const entries: LogEntry[] = [];
    let position = this.readPosition;
    while (entries.length < max) {
      const floor = tail.floor;
      if (position >= floor) {
        entries.push(...tail.after(position, max - entries.length));
        break;
      }
      const fromDisk = await disk.read(position, max - entries.length);
      if (fromDisk.length === 0) {
        // Nothing left on disk below the tail (segments damaged or gone): go on from the tail.
        logger.warn(
          `journal cursor ${this.destinationId}: no entries on disk between #${position + 1} and #${floor}; continuing after #${floor}`,
        );
        position = floor;
        if (entries.length === 0) this.readPosition = floor;
        continue;
      }
      entries.push(...fromDisk);
      position = fromDisk[fromDisk.length - 1].seq;
    }
    return entries;
  }
}
