/**
 * What the journal finds on disk at open. A crash can only tear the segment being written
 * (with fsync 'batch' or 'always' every older one was synced before a newer one was created),
 * so only the last segment is scanned, record by record, and a torn or damaged tail is cut
 * off: garbage is never replayed. Older segments are checked as cursors read them (a scan of
 * every segment would make a start with a full journal read gigabytes).
 */
import { open } from 'node:fs/promises';
import { SegmentReader } from './segment-reader.js';
import { SegmentCatalog, listSegments, type SegmentInfo } from './segments.js';

export interface TailCut {
  file: string;
  /** Where the good records end. */
  offset: number;
  bytes: number;
  reason: string;
}

export interface RecoveredSegments {
  catalog: SegmentCatalog;
  /** The last good record's seq (the last segment's first seq - 1 when it holds none; 0 without segments). */
  lastSeq: number;
  cut: TailCut | null;
}

/** Records scanned per read while checking the last segment. */
const SCAN_BATCH = 4096;

export async function recoverSegments(directory: string, chunkBytes: number): Promise<RecoveredSegments> {
  const segments = await listSegments(directory);
  const last = segments.at(-1);
  if (!last) return { catalog: new SegmentCatalog([]), lastSeq: 0, cut: null };
  const scan = await scanSegment(last, chunkBytes);
  const cut = scan.goodBytes < last.size ? await cutTail(last, scan.goodBytes, scan.problem) : null;
  return { catalog: new SegmentCatalog(segments), lastSeq: scan.lastSeq ?? last.firstSeq - 1, cut };
}

async function scanSegment(segment: SegmentInfo, chunkBytes: number) {
  const reader = await SegmentReader.open(segment, chunkBytes);
  let lastSeq: number | null = null;
  try {
    for (;;) {
      const { records, status } = await reader.read(SCAN_BATCH);
      lastSeq = records.at(-1)?.seq ?? lastSeq;
      if (status !== 'more') break;
    }
    return { lastSeq, goodBytes: reader.goodBytes, problem: reader.problem ?? 'file shorter than expected' };
  } finally {
    await reader.close();
  }
}

async function cutTail(segment: SegmentInfo, goodBytes: number, reason: string): Promise<TailCut> {
  const handle = await open(segment.path, 'r+');
  try {
    await handle.truncate(goodBytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const cut = { file: segment.path, offset: goodBytes, bytes: segment.size - goodBytes, reason };
  segment.size = goodBytes;
  return cut;
}
