/**
 * One destination's cursor over the journal: reads from the in-memory tail while it keeps
 * up, from the segment files when it has fallen behind, and reports checkpoint moves back.
 */
import type { Logger } from '../logger.js';
import { AckTracker } from './ack-tracker.js';
import type { CatchUpReader } from './catch-up-reader.js';
import type { Cursor, LogEntry } from './event-log.js';
import type { MemoryTail } from './memory-tail.js';

/** What a cursor needs from the journal. */
export interface CursorSource {
  readonly tail: MemoryTail;
  /** Resolves true once an entry above `seq` is committed, false once the journal is closed. */
  waitForEntriesAfter(seq: number): Promise<boolean>;
  checkpointMoved(destinationId: string, checkpoint: number): void;
}

export class JournalCursor implements Cursor {
  readPosition: number;
  private readonly acks: AckTracker;
  private reading: Promise<LogEntry[]> = Promise.resolve([]);

  constructor(
    readonly destinationId: string,
    start: number,
    private readonly source: CursorSource,
    private readonly disk: CatchUpReader,
    private readonly logger: Logger,
  ) {
    this.readPosition = start;
    this.acks = new AckTracker(start);
  }

  get checkpoint(): number {
    return this.acks.checkpoint;
  }

  next(max: number): Promise<LogEntry[]> {
    this.reading = this.readNext(max);
    return this.reading;
  }

  ack(seq: number): void {
    if (this.acks.ack(seq)) this.source.checkpointMoved(this.destinationId, this.acks.checkpoint);
  }

  /** Waits for a read in progress, then releases the files this cursor holds. */
  async close(): Promise<void> {
    await this.reading.catch(() => undefined);
    await this.disk.close();
  }

  private async readNext(max: number): Promise<LogEntry[]> {
    while (await this.source.waitForEntriesAfter(this.readPosition)) {
      const entries = await this.readAfterPosition(max);
      if (entries.length === 0) continue;
      this.readPosition = entries[entries.length - 1].seq;
      if (this.acks.handedOut(entries.map((entry) => entry.seq))) {
        this.source.checkpointMoved(this.destinationId, this.acks.checkpoint);
      }
      return entries;
    }
    return [];
  }

  private async readAfterPosition(max: number): Promise<LogEntry[]> {
    const floor = this.source.tail.floor;
    if (this.readPosition >= floor) return this.source.tail.after(this.readPosition, max);
    const entries = await this.disk.read(this.readPosition, max);
    if (entries.length === 0) {
      // Nothing left on disk below the tail (segments damaged or gone): go on from the tail.
      this.logger.warn(
        `journal cursor ${this.destinationId}: no entries on disk between #${this.readPosition + 1} and #${floor}; continuing after #${floor}`,
      );
      this.readPosition = floor;
    }
    return entries;
  }
}
