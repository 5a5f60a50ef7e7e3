/**
 * One process at a time per journal directory: two writers would interleave records and
 * corrupt it. `journal.lock` holds the pid of the process that has the journal open; a lock
 * left by a process that no longer runs (a crash, kill -9) is taken over.
 *
 *   journal.lock  4711\n
 */
import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../errors.js';
import { isProcessAlive } from '../stale-temp-files.js';

const FILE_NAME = 'journal.lock';

class JournalLockedError extends Error {
  override readonly name = 'JournalLockedError';
}

/** Takes the lock; resolves with its release. Throws JournalLockedError while another process holds it. */
export async function lockJournal(directory: string): Promise<() => Promise<void>> {
  const file = path.join(directory, FILE_NAME);
  for (;;) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        await unlink(file).catch(() => undefined);
      };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    // This process may open a journal it did not close (a test standing for a crash): take it.
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isProcessAlive(holder)) {
      throw new JournalLockedError(
        `the journal in ${directory} is in use by process ${holder}: stop it first (one process per journal)`,
      );
    }
    await unlink(file).catch(() => undefined);
  }
}
