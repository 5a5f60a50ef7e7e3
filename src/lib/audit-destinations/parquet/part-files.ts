/**
 * The names of the Parquet destination's files, in one place: published part files
 * `YYYYMMDD_partN.parquet` (one UTC event date each, N counting up from 1 per date), and the
 * hidden temporary files they are written to first, `.YYYYMMDD_partN.parquet.<pid>.<random>.tmp`,
 * whose pid tells whose write in progress they are.
 */
import { pidTaggedTempName, pidTaggedTempOwner } from '../../stale-temp-files.js';

const PART_FILE = /^(\d{8})_part(\d+)\.parquet$/;
const UTC_DATE = /^\d{8}$/;

/** Whether `date` may become part of a file name: eight digits, nothing else. */
export function isPartFileDate(date: string): boolean {
  return UTC_DATE.test(date);
}

export function partFileName(date: string, part: number): string {
  return `${date}_part${part}.parquet`;
}

/** A published part file's date and number, or null for any other name. */
export function parsePartFileName(name: string): { date: string; part: number } | null {
  const match = PART_FILE.exec(name);
  return match ? { date: match[1], part: Number(match[2]) } : null;
}

export function tempFileName(date: string, part: number): string {
  return pidTaggedTempName(partFileName(date, part));
}

/** The pid of the process that wrote a part file's temporary file, or null for any other name. */
export function tempFileOwner(name: string): number | null {
  return pidTaggedTempOwner(name, (base) => PART_FILE.test(base));
}
