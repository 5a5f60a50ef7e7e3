/**
 * The journal's identity: a random UUID made at the first open of a directory and kept in it,
 * so that a restart is the same journal and another directory (or a wiped one) is not.
 *
 *   journal-id  6f1c0d9e-...-...\n
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFileAtomically } from '../durable-files.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../logger.js';

const FILE_NAME = 'journal-id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function readOrCreateJournalId(directory: string, logger: Logger): Promise<string> {
  const file = path.join(directory, FILE_NAME);
  const stored = await readFile(file, 'utf8').catch((error: unknown) => {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  });
  const id = stored?.trim();
  if (id && UUID.test(id)) return id;
  if (stored !== null) {
    // Written atomically, so this is outside damage. A new id only means no destination takes
    // what it stored under the old one for this journal's: the journal replays, they deduplicate.
    logger.error(`journal id file ${file} is unreadable; the journal gets a new id`);
  }
  const created = randomUUID();
  await replaceFileAtomically(file, directory, `${created}\n`);
  return created;
}
