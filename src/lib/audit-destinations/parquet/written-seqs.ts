/**
 * What the Parquet files already hold, read back at start: each file's key-value metadata
 * names the event log and the sequence range of its rows. A crash between publishing a file and
 * saving the journal checkpoint would otherwise write those rows a second time.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { parsePartFileName } from './part-files.js';

export const SEQ_RANGE_KEY = 'butler-sos.audit.seqRange';
/** The event log that numbered the rows (SEQ_RANGE_KEY means nothing without it). */
export const LOG_ID_KEY = 'butler-sos.audit.logId';

/** `"<first>-<last>"` of the items' sequence numbers. */
export function formatSeqRange(first: number, last: number): string {
  return `${first}-${last}`;
}

function lastSeqOf(range: string | undefined): number {
  const match = /^(\d+)-(\d+)$/.exec(range ?? '');
  return match ? Number(match[2]) : 0;
}

/** Part file names by date, each date's highest part number first. */
function partFilesNewestFirstByDate(names: string[]): string[][] {
  const byDate = new Map<string, Array<{ name: string; part: number }>>();
  for (const name of names) {
    const parsed = parsePartFileName(name);
    if (!parsed) continue;
    const parts = byDate.get(parsed.date) ?? [];
    parts.push({ name, part: parsed.part });
    byDate.set(parsed.date, parts);
  }
  return [...byDate.values()].map((parts) => parts.sort((a, b) => b.part - a.part).map(({ name }) => name));
}

/**
 * The highest sequence number of `logId` that a part file in `directory` holds; 0 when none.
 * Files of another log (another process sharing the directory, or a journal that was
 * replaced) number their rows on their own and are ignored. A file whose footer cannot be
 * read (not ours, damaged) is skipped with a warning rather than stopping the start.
 *
 * Only one footer per date is read in the usual case, however many files a date has: a sink
 * writes in log order and every file it publishes takes a higher part number than the
 * date's earlier ones, so for each date the highest-numbered file of this log holds its
 * highest seq there.
 */
export async function highestWrittenSeq(directory: string, logId: string, logger: Logger): Promise<number> {
  let highest = 0;
  for (const names of partFilesNewestFirstByDate(await readdir(directory))) {
    for (const name of names) {
      const metadata = await readKeyValueMetadata(path.join(directory, name), logger);
      if (metadata?.get(LOG_ID_KEY) !== logId) continue;
      highest = Math.max(highest, lastSeqOf(metadata.get(SEQ_RANGE_KEY)));
      break;
    }
  }
  return highest;
}

async function readKeyValueMetadata(file: string, logger: Logger): Promise<Map<string, string> | null> {
  try {
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(file));
    return new Map((metadata.key_value_metadata ?? []).map(({ key, value }) => [key, value ?? '']));
  } catch (error) {
    logger.warn(
      `${path.basename(file)} in ${path.dirname(file)} is not a readable Parquet file (${errorMessage(error)}); ignored`,
    );
    return null;
  }
}
