/**
 * The deterministic names of saved screenshots, in one place:
 * `<YYYYMMDDTHHmmss.SSSZ>_<eventId>_<correlationId>.<ext>` and its `_metadata` copy.
 * The same event always maps to the same names (a replay finds its files), and no ID can
 * leave the target directory: every character outside [A-Za-z0-9._-] becomes `_`, each ID is
 * cut to 128 characters, and the name starts with the timestamp, so it is never `.` or `..`.
 */
import { DateTime } from 'luxon';
import { pidTaggedTempName, pidTaggedTempOwner } from '../stale-temp-files.js';

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
function fileNameTimestamp(timeMs: number): string {
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

const TEMPORARY_BASE = 'screenshot';

/**
 * A hidden temporary name in the same directory, renamed to the final name once synced; the pid
 * tells a crashed writer's leftover from another process's write in progress.
 */
export function temporaryFileName(): string {
  return pidTaggedTempName(TEMPORARY_BASE);
}

/** The pid of the process that wrote a screenshot's temporary file, or null for any other name. */
export function temporaryFileOwner(name: string): number | null {
  return pidTaggedTempOwner(name, (base) => base === TEMPORARY_BASE);
}
