/**
 * The dead-letter file: where an event goes when a destination refused it for its content
 * (SPEC 4.3), with the server's reason, so that a poison event never blocks the events
 * behind it and is never silently lost. One NDJSON file per destination and UTC day.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { utcDate } from '../audit-events/record.js';

export interface DeadLetterRecord {
  eventId: string;
  /** The event's sequence number in the event log, when it has one. */
  seq?: number;
  /** What the destination refused, as it was sent (e.g. one line of line protocol). */
  payload: string;
  /** Why: the server's own message. */
  reason: string;
  status?: number;
}

export class DeadLetterFile {
  constructor(
    private readonly directory: string,
    private readonly destinationId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The file records go to today: `<directory>/<destination>-YYYYMMDD.ndjson`. */
  currentPath(): string {
    return path.join(this.directory, `${this.destinationId}-${utcDate(this.now().getTime())}.ndjson`);
  }

  /**
   * Appends and fsyncs: a dead-lettered event is acked, so the file must hold it first. A
   * caller passes a whole batch's records at once: one open and one fsync for all of them.
   */
  async append(records: DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return;
    await mkdir(this.directory, { recursive: true });
    const deadLetteredAt = this.now().toISOString();
    const lines = records.map((record) => JSON.stringify({ deadLetteredAt, destination: this.destinationId, ...record }));
    const handle = await open(this.currentPath(), 'a', 0o600);
    try {
      const { size } = await handle.stat();
      try {
        await handle.writeFile(`${lines.join('\n')}\n`);
        await handle.datasync();
      } catch (error) {
        // A failed write (disk full) may leave part of a line, which the retry's records would
        // be glued to: cut the file back to where this append began.
        await handle.truncate(size).catch(() => undefined);
        throw error;
      }
    } finally {
      await handle.close();
    }
  }
}
