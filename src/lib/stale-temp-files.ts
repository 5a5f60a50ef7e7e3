/**
 * Hidden temporary files carry the pid of the process writing them (Parquet part files,
 * screenshots), so that a start can tell a crashed writer's leftover from another process's
 * write in progress in a shared directory, and remove only the former. The journal's lock file
 * holds a pid for the same reason. Their one name format, `.<base>.<pid>.<12 hex>.tmp`, is here.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from './errors.js';
import type { Logger } from './logger.js';

/** A hidden temporary name for a file to be renamed to `base`, tagged with this process's pid. */
export function pidTaggedTempName(base: string): string {
  return `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

const PID_TAGGED_TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * The pid in a pidTaggedTempName whose base `isOwnBase` accepts, or null for any other name: each
 * writer sweeps only its own temporary files.
 */
export function pidTaggedTempOwner(name: string, isOwnBase: (base: string) => boolean): number | null {
  const match = PID_TAGGED_TEMP_NAME.exec(name);
  return match && isOwnBase(match[1]) ? Number(match[2]) : null;
}

/** signal 0 only checks: ESRCH means no such process; EPERM means it exists but is not ours. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH';
  }
}

/**
 * Removes the files of `directory` whose owner (`ownerOf`: the pid in a temporary file's name,
 * as pidTaggedTempOwner reads it; null for any other name) no longer runs. A missing directory
 * holds nothing to remove. (A pid reused after a reboot only means a stale hidden file survives
 * until the next start.)
 */
export async function removeStaleTempFiles(
  directory: string,
  ownerOf: (name: string) => number | null,
  logger: Logger,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    const pid = ownerOf(name);
    if (pid === null || isProcessAlive(pid)) continue;
    await rm(path.join(directory, name), { force: true });
    logger.info(`removed ${path.join(directory, name)}, left over by process ${pid} that no longer runs`);
  }
}
