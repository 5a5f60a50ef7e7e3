/**
 * The journal's files as a crash leaves them: the last segment, and the bytes an append that
 * was never answered may leave torn onto its end (a record cut short, a record whose payload
 * never reached the disk, zeros of a file that grew before its data was written, garbage).
 */
import { appendFile, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  HEADER_BYTES,
  decodeRecordAt,
  encodePayload,
  encodeRecord,
} from '../../src/lib/audit-journal/record-format.js';
import { freshEnvelope } from './fixtures.js';

export interface TornTail {
  label: string;
  /** The torn bytes, for a segment whose next record would carry `nextSeq`. */
  bytes(nextSeq: number): Buffer;
}

/** A record the next append would have written: its seq follows on, so only length and CRC give it away. */
function nextRecord(nextSeq: number): Buffer {
  return encodeRecord(nextSeq, encodePayload(freshEnvelope('navigation.sheet.loaded')));
}

export const TORN_TAILS: readonly TornTail[] = [
  { label: 'a record cut inside its header', bytes: (seq) => nextRecord(seq).subarray(0, HEADER_BYTES - 5) },
  {
    label: 'a record cut inside its payload',
    bytes: (seq) => nextRecord(seq).subarray(0, HEADER_BYTES + 40),
  },
  {
    label: 'a whole record whose payload never reached the disk',
    bytes: (seq) => nextRecord(seq).fill(0, HEADER_BYTES + 8),
  },
  { label: 'zeros of a file that grew before its data was written', bytes: () => Buffer.alloc(4096) },
  { label: 'garbage', bytes: () => Buffer.from('\u00ff\u0013 not a journal record '.repeat(20), 'latin1') },
];

export async function segmentFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.seg')).sort();
}

export async function lastSegmentFile(directory: string): Promise<string> {
  const last = (await segmentFiles(directory)).at(-1);
  if (!last) throw new Error(`no journal segment in ${directory}`);
  return path.join(directory, last);
}

/** A segment is named after the seq of its first record. */
function firstSeqOf(file: string): number {
  return Number(path.basename(file, '.seg'));
}

/**
 * The seqs of a segment file's records, checked as recovery checks them (length, CRC, each
 * seq following on from the file's name); throws at the first byte that is not a good record.
 */
export async function segmentRecordSeqs(file: string): Promise<number[]> {
  const bytes = await readFile(file);
  const seqs: number[] = [];
  let expected = firstSeqOf(file);
  for (let offset = 0; offset < bytes.length; expected += 1) {
    const result = decodeRecordAt(bytes, offset);
    if (result.kind !== 'record' || result.record.seq !== expected) {
      const found = result.kind === 'record' ? `#${result.record.seq}` : result.kind;
      throw new Error(
        `${file} (${bytes.length} bytes): at byte ${offset}, expected #${expected}, found ${found}`,
      );
    }
    seqs.push(result.record.seq);
    offset += result.record.size;
  }
  return seqs;
}

/** The seqs of the records in every segment of the journal, each segment checked as segmentRecordSeqs checks it. */
export async function journalRecordSeqs(directory: string): Promise<number[]> {
  const seqs: number[] = [];
  for (const name of await segmentFiles(directory))
    seqs.push(...(await segmentRecordSeqs(path.join(directory, name))));
  return seqs;
}

/** Appends `tear` to the journal's last segment, as a crash in the middle of a write would leave it. */
export async function tearLastSegment(
  directory: string,
  tear: TornTail,
): Promise<{ file: string; goodBytes: number; tornBytes: number }> {
  const file = await lastSegmentFile(directory);
  const goodBytes = (await stat(file)).size;
  const lastSeq = (await segmentRecordSeqs(file)).at(-1) ?? firstSeqOf(file) - 1;
  const bytes = tear.bytes(lastSeq + 1);
  await appendFile(file, bytes);
  return { file, goodBytes, tornBytes: bytes.length };
}
