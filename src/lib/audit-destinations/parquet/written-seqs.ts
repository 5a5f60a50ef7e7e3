/**
 * What the Parquet files already hold, read back at start: each file's key-value metadata
 * names the log sequence range of its rows (SPEC 6). A crash between publishing a file and
 * saving the journal checkpoint would otherwise write those rows a second time.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';

export const SEQ_RANGE_KEY = 'butler-sos.audit.seqRange';

const PART_FILE = /^\d{8}_part\d+\.parquet$/;

/** `"<first>-<last>"` of the items' sequence numbers. */
export function formatSeqRange(first: number, last: number): string {
  return `${first}-${last}`;
}

function lastSeqOf(range: string | undefined): number {
  const match = /^(\d+)-(\d+)$/.exec(range ?? '');
  return match ? Number(match[2]) : 0;
}

/** The highest sequence number any part file in `directory` holds; 0 when none says. */
export async function highestWrittenSeq(directory: string): Promise<number> {
  let highest = 0;
  for (const name of await readdir(directory)) {
    if (!PART_FILE.test(name)) continue;
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path.join(directory, name)));
    const range = metadata.key_value_metadata?.find((entry) => entry.key === SEQ_RANGE_KEY)?.value;
    highest = Math.max(highest, lastSeqOf(range));
  }
  return highest;
}
