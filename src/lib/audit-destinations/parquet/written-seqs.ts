/**
 * What the Parquet files already hold, read back at start: each file's key-value metadata
 * names the event log and the sequence range of its rows (SPEC 6). A crash between publishing a file and
 * saving the journal checkpoint would otherwise write those rows a second time.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';

export const SEQ_RANGE_KEY = 'butler-sos.audit.seqRange';
/** The event log that numbered the rows (SEQ_RANGE_KEY means nothing without it). */
export const LOG_ID_KEY = 'butler-sos.audit.logId';

const PART_FILE = /^\d{8}_part\d+\.parquet$/;

/** `"<first>-<last>"` of the items' sequence numbers. */
export function formatSeqRange(first: number, last: number): string {
  return `${first}-${last}`;
}

function lastSeqOf(range: string | undefined): number {
  const match = /^(\d+)-(\d+)$/.exec(range ?? '');
  return match ? Number(match[2]) : 0;
}

/**
 * The highest sequence number of `logId` that a part file in `directory` holds; 0 when none.
 * Files of another log (another process sharing the directory, or a journal that was
 * replaced) number their rows on their own and are ignored. A file whose footer cannot be
 * read (not ours, damaged) is skipped with a warning rather than stopping the start.
 */
export async function highestWrittenSeq(directory: string, logId: string, logger: Logger): Promise<number> {
  let highest = 0;
  for (const name of await readdir(directory)) {
    if (!PART_FILE.test(name)) continue;
    try {
      const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path.join(directory, name)));
      const value = (key: string) => metadata.key_value_metadata?.find((entry) => entry.key === key)?.value;
      if (value(LOG_ID_KEY) === logId) highest = Math.max(highest, lastSeqOf(value(SEQ_RANGE_KEY)));
    } catch (error) {
      logger.warn(`${name} in ${directory} is not a readable Parquet file (${errorMessage(error)}); ignored`);
    }
  }
  return highest;
}
