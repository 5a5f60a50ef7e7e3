/**
 * The journal's segment files: their names, and the ordered list of those that exist. A
 * segment is named after the first sequence number it holds, so the list needs no index file.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const SEGMENT_SUFFIX = '.seg';
/** Enough digits for Number.MAX_SAFE_INTEGER, so names sort as numbers do. */
const SEQ_DIGITS = 16;
const SEGMENT_NAME = new RegExp(`^(\\d{${SEQ_DIGITS}})\\${SEGMENT_SUFFIX}$`);

export interface SegmentInfo {
  readonly firstSeq: number;
  readonly path: string;
  /** Bytes a reader may read: the committed end while the segment is written, its file size after. */
  size: number;
  /** No record will be added any more. */
  sealed: boolean;
  /**
   * The last record's seq, once sealed by this process. Without it the next segment's first
   * seq bounds it, which seqs abandoned by a failed write may lie below.
   */
  lastSeq?: number;
}

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(SEQ_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

function firstSeqOf(fileName: string): number | null {
  const match = SEGMENT_NAME.exec(fileName);
  return match ? Number(match[1]) : null;
}

/** The segment files in `directory`, oldest first, all marked sealed (the caller reopens the last). */
export async function listSegments(directory: string): Promise<SegmentInfo[]> {
  const segments: SegmentInfo[] = [];
  for (const name of await readdir(directory)) {
    const firstSeq = firstSeqOf(name);
    if (firstSeq === null) continue;
    const file = path.join(directory, name);
    segments.push({ firstSeq, path: file, size: (await stat(file)).size, sealed: true });
  }
  return segments.sort((a, b) => a.firstSeq - b.firstSeq);
}

export class SegmentCatalog {
  constructor(private segments: SegmentInfo[]) {}

  get all(): readonly SegmentInfo[] {
    return this.segments;
  }

  get last(): SegmentInfo | undefined {
    return this.segments.at(-1);
  }

  get totalBytes(): number {
    return this.segments.reduce((sum, segment) => sum + segment.size, 0);
  }

  /** The segment that holds `seq`, or the first one after it when `seq` is no longer (or never was) on disk. */
  segmentFor(seq: number): SegmentInfo | undefined {
    let holder = this.segments[0];
    for (const segment of this.segments) {
      if (segment.firstSeq > seq) break;
      holder = segment;
    }
    return holder;
  }

  /** The segment after `segment`; works for a segment already removed from the list. */
  after(segment: SegmentInfo): SegmentInfo | undefined {
    return this.segments.find((candidate) => candidate.firstSeq > segment.firstSeq);
  }

  add(segment: SegmentInfo): void {
    this.segments.push(segment);
  }

  remove(segment: SegmentInfo): void {
    this.segments = this.segments.filter((candidate) => candidate !== segment);
  }

  /**
   * Sealed segments whose every record is at or below `checkpoint`. A segment's records end
   * at its lastSeq, else before the next segment's first seq; the last segment is kept, since
   * nothing bounds it.
   */
  releasedBy(checkpoint: number): SegmentInfo[] {
    return this.segments.filter((segment, index) => {
      const next = this.segments[index + 1];
      if (!segment.sealed || next === undefined) return false;
      return (segment.lastSeq ?? next.firstSeq - 1) <= checkpoint;
    });
  }
}
