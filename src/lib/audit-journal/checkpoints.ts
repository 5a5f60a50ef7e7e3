/**
 * Every destination's checkpoint, persisted in one small JSON file that is replaced atomically.
 * Saves are throttled (at most one per interval, and one on close): losing the last interval
 * only replays a few entries, which the destinations deduplicate.
 *
 *   checkpoints.json  {"version":1,"checkpoints":{"influxdb":1200,"parquet":1187}}
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { replaceFileAtomically } from '../durable-files.js';

const FILE_NAME = 'checkpoints.json';
const FORMAT_VERSION = 1;

export interface CheckpointStoreOptions {
  directory: string;
  intervalMs: number;
  logger: Logger;
  /** Called after each save: segments below the lowest persisted checkpoint may go. */
  onPersisted(): Promise<void>;
}

/**
 * Reads the stored checkpoints of `destinationIds`; one without a stored value starts at 0
 * (replays everything the journal holds). Destinations no longer configured are forgotten, so
 * they do not keep segments alive.
 */
export async function readCheckpoints(
  directory: string,
  destinationIds: string[],
  logger: Logger,
): Promise<Map<string, number>> {
  const stored = await readStoredCheckpoints(path.join(directory, FILE_NAME), logger);
  return new Map(destinationIds.map((id) => [id, validSeq(stored[id]) ? stored[id] : 0]));
}

export class CheckpointStore {
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;
  private dirty = false;
  /** The last save failed: flush() gives up until the next set() rather than spin on a bad disk. */
  private failed = false;
  /** What is on disk now. */
  private persisted: Record<string, number>;

  constructor(
    private readonly values: Map<string, number>,
    private readonly options: CheckpointStoreOptions,
  ) {
    this.persisted = this.all();
  }

  has(destinationId: string): boolean {
    return this.values.has(destinationId);
  }

  get(destinationId: string): number {
    return this.values.get(destinationId) ?? 0;
  }

  all(): Record<string, number> {
    return Object.fromEntries(this.values);
  }

  /** The slowest destination's checkpoint (Infinity without destinations: nothing is waited for). */
  lowest(): number {
    return Math.min(Infinity, ...this.values.values());
  }

  /** The slowest destination's checkpoint as stored on disk: what a restart would resume from. */
  lowestPersisted(): number {
    return Math.min(Infinity, ...Object.values(this.persisted));
  }

  set(destinationId: string, seq: number): void {
    this.values.set(destinationId, seq);
    this.dirty = true;
    this.failed = false;
    this.timer ??= setTimeout(() => void this.flush(), this.options.intervalMs);
  }

  /** Resolves once every value set before the call is on disk (or its save failed and was logged). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.saving || this.dirty) {
      if (!this.saving) this.saving = this.save().finally(() => (this.saving = null));
      await this.saving;
      if (this.dirty && this.failed) return;
    }
  }

  private async save(): Promise<void> {
    this.dirty = false;
    const snapshot = this.all();
    try {
      const content = JSON.stringify({ version: FORMAT_VERSION, checkpoints: snapshot });
      await replaceFileAtomically(
        path.join(this.options.directory, FILE_NAME),
        this.options.directory,
        content,
      );
      this.failed = false;
      this.persisted = snapshot;
    } catch (error) {
      this.dirty = true;
      this.failed = true;
      this.options.logger.warn(`could not save journal checkpoints: ${errorMessage(error)}`);
      return;
    }
    await this.options.onPersisted();
  }
}

async function readStoredCheckpoints(file: string, logger: Logger): Promise<Record<string, number>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return {};
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as { checkpoints?: Record<string, number> };
    return parsed.checkpoints ?? {};
  } catch {
    // The file is replaced atomically, so this is outside damage. Replaying from the start is
    // safe (destinations deduplicate), refusing to start is not.
    logger.error(
      `journal checkpoint file ${file} is unreadable; every destination replays the whole journal`,
    );
    return {};
  }
}

function validSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
