/**
 * The dead-letter file: where an event goes when a destination refused it for its content,
 * with the reason, so that a poison event never blocks the events behind it and is never
 * silently lost. One NDJSON file per destination and UTC day, under
 * `<journal.directory>/dead-letter/<destination>-YYYYMMDD.ndjson`; each record holds the
 * envelope as it was accepted, so that it can be replayed once the cause is fixed.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { utcDate } from '../audit-events/event-time.js';
import type { AuditEnvelope } from '../audit-events/types.js';
import { fsyncDirectory } from '../durable-files.js';
import type { Rejection } from './sink.js';

export interface DeadLetterRecord {
  eventId: string;
  /** The event's sequence number in the event log, when it has one. */
  seq?: number;
  /** Why: the destination's own words. */
  reason: string;
  status?: number;
  /** What was sent for it, when that helps (a line of line protocol). */
  payload?: string;
  /** The event as accepted, for a replay. */
  envelope?: AuditEnvelope;
}

/**
 * The dead-letter record of an item a destination refused, with the envelope it came from when
 * the caller has it. One place for the fields and their order: every caller writes the same lines.
 */
export function deadLetterRecordOf(
  { item, reason, status, payload }: Rejection,
  envelope: AuditEnvelope | undefined,
): DeadLetterRecord {
  return { eventId: item.value.eventId, seq: item.seq, reason, status, payload, envelope };
}

/** Dead-letter files hold whole envelopes (personal data): readable by the module's user only. */
const DEAD_LETTER_FILE_MODE = 0o600;

export class DeadLetterFile {
  constructor(
    private readonly directory: string,
    private readonly destinationId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The file records go to today. */
  currentPath(): string {
    return path.join(this.directory, `${this.destinationId}-${utcDate(this.now().getTime())}.ndjson`);
  }

  /**
   * Appends and fdatasyncs: a dead-lettered event is acked, so the file must hold it first.
   * A caller passes a whole batch's records at once: one open and one sync for all of them.
   */
  async append(records: DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return;
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const deadLetteredAt = this.now().toISOString();
    // JSON.stringify leaves out the fields a record does not have (undefined).
    const lines = records.map((record) =>
      JSON.stringify({ deadLetteredAt, destination: this.destinationId, ...record }),
    );
    const file = this.currentPath();
    const handle = await open(file, 'a+', DEAD_LETTER_FILE_MODE);
    let sizeBefore: number;
    try {
      sizeBefore = (await handle.stat()).size;
    } catch (error) {
      await handle.close();
      throw error;
    }
    try {
      // A crash in the middle of an earlier append may have left a line without its end.
      const separator = sizeBefore > 0 && !(await endsWithNewline(handle, sizeBefore)) ? '\n' : '';
      await handle.writeFile(`${separator}${lines.join('\n')}\n`);
      await handle.datasync();
    } catch (error) {
      // A half-written line (a full disk) would spoil the file for readers: cut it off.
      await handle.truncate(sizeBefore).catch(() => undefined);
      throw error;
    } finally {
      await handle.close();
    }
    // The first record of a day creates the file: its directory entry must be durable too.
    if (sizeBefore === 0) await fsyncDirectory(this.directory);
  }
}

async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === 0x0a;
}
