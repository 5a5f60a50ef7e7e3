/**
 * The deterministic names of saved screenshots, in one place:
 * `<YYYYMMDDTHHmmss.SSSZ>_<eventId>_<correlationId>.<ext>` and its `_metadata` copy.
 * The same event always maps to the same names (a replay finds its files), and no ID can
 * leave the target directory: every character outside [A-Za-z0-9._-] becomes `_`, each ID is
 * cut to 128 characters, and the name starts with the timestamp, so it is never `.` or `..`.
 */
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

/** The extension each format is saved with, as Butler SOS names them. */
export const IMAGE_EXTENSIONS: Readonly<Record<ImageFormat, string>> = {
  png: 'png',
  jpeg: 'jpg',
  webp: 'webp',
  gif: 'gif',
};

const MAX_ID_LENGTH = 128;
// `u`: a character outside the BMP is one character, replaced by one `_`.
const UNSAFE_CHARACTER = /[^A-Za-z0-9._-]/gu;

/** An ID as it may appear in a file name; `none` when missing or empty. */
export function fileNameId(id: string | null | undefined): string {
  if (!id) return 'none';
  // Array.from cuts at code points, so a surrogate pair never leaves half a character behind.
  return Array.from(id).slice(0, MAX_ID_LENGTH).join('').replace(UNSAFE_CHARACTER, '_');
}

/** `YYYYMMDDTHHmmss.SSSZ` of an instant, UTC. */
export function fileNameTimestamp(timeMs: number): string {
  return DateTime.fromMillis(timeMs, { zone: 'utc' }).toFormat("yyyyLLdd'T'HHmmss.SSS'Z'");
}

/** The name without extension shared by an event's image and its metadata copy. */
export function screenshotBaseName(
  eventTimeMs: number,
  eventId: string,
  correlationId: string | null,
): string {
  return `${fileNameTimestamp(eventTimeMs)}_${fileNameId(eventId)}_${fileNameId(correlationId)}`;
}

export function imageFileName(baseName: string, format: ImageFormat): string {
  return `${baseName}.${IMAGE_EXTENSIONS[format]}`;
}

export function metadataFileName(baseName: string, format: ImageFormat): string {
  return `${baseName}_metadata.${IMAGE_EXTENSIONS[format]}`;
}

/**
 * A hidden temporary name in the same directory, renamed to the final name once synced; the pid
 * tells a crashed writer's leftover from another process's write in progress.
 */
export function temporaryFileName(): string {
  return `.screenshot.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

const TEMPORARY_FILE = /^\.screenshot\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** The pid of the process that wrote a temporary file, or null for any other name. */
export function temporaryFileOwner(name: string): number | null {
  const pid = TEMPORARY_FILE.exec(name)?.[1];
  return pid === undefined ? null : Number(pid);
}
