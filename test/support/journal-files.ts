/**
 * The journal directory's files as an operator (or a crash) finds them: `checkpoints.json`
 * and the dead-letter NDJSON files (docs/journal.md, "On disk").
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** `{"version":1,"checkpoints":{...}}`: each destination's saved checkpoint. */
export function checkpointsFile(journalDirectory: string): string {
  return path.join(journalDirectory, 'checkpoints.json');
}

/** The saved checkpoints by destination id; {} when the file does not exist yet. */
export function readSavedCheckpoints(journalDirectory: string): Record<string, number> {
  try {
    const saved = JSON.parse(readFileSync(checkpointsFile(journalDirectory), 'utf8')) as {
      checkpoints: Record<string, number>;
    };
    return saved.checkpoints;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/** Writes checkpoints.json as the journal does, e.g. a stale one a crash would have left. */
export function writeSavedCheckpoints(journalDirectory: string, checkpoints: Record<string, number>): void {
  writeFileSync(checkpointsFile(journalDirectory), JSON.stringify({ version: 1, checkpoints }));
}

export interface DeadLetterLine {
  deadLetteredAt: string;
  destination: string;
  eventId: string;
  seq?: number;
  payload: string;
  reason: string;
  status?: number;
  /** The file the record is in. */
  file: string;
}

/** Every record of a destination's dead-letter files (one per UTC day), oldest day first. */
export function readDeadLetters(journalDirectory: string, destination = 'influxdb'): DeadLetterLine[] {
  const directory = path.join(journalDirectory, 'dead-letter');
  const name = new RegExp(`^${destination}-\\d{8}\\.ndjson$`);
  const files = existsSync(directory) ? readdirSync(directory).filter((file) => name.test(file)) : [];
  return files.sort().flatMap((name) => {
    const file = path.join(directory, name);
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ ...(JSON.parse(line) as Omit<DeadLetterLine, 'file'>), file }));
  });
}
