/**
 * The few file-system moves that must survive a crash, shared by the journal and the Parquet
 * destination and the screenshots: a directory entry made durable, a whole buffer written at a
 * position, a new file written and synced, a file written beside its final name and renamed to
 * it, a small file replaced atomically.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';

/**
 * Makes a directory's entries (a new or renamed file) durable. Best effort where the platform
 * cannot fsync a directory (Windows answers EPERM; some file systems EINVAL/ENOTSUP).
 */
export async function fsyncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    if (!isUnsupportedDirectorySync(error)) throw error;
  } finally {
    await handle?.close();
  }
}

function isUnsupportedDirectorySync(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'EISDIR' || code === 'EINVAL' || code === 'ENOTSUP' || code === 'EBADF';
}

/** Writes all of `buffer` at `position`, continuing after short writes. */
export async function writeFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, written, buffer.length - written, position + written);
    written += bytesWritten;
  }
}

/** Writes `bytes` to `file`, opened with `flags`, synced before it is closed. */
async function writeFileSynced(file: string, bytes: Uint8Array, flags: 'w' | 'wx'): Promise<void> {
  const handle = await open(file, flags);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `file` (failing if it exists) with `bytes`, synced before it is closed. */
export function writeNewFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  return writeFileSynced(file, bytes, 'wx');
}

/**
 * Writes `bytes` to `temporary` (in the directory of `file`; `flags` 'wx' when it must be new),
 * syncs it and renames it to `file`, so that a crash leaves the old `file` or the new one, never
 * part of it. The rename is durable once the caller syncs the directory: once for all the files
 * it renames there.
 */
export async function renameSyncedFile(
  temporary: string,
  file: string,
  bytes: Uint8Array,
  flags: 'w' | 'wx',
): Promise<void> {
  await writeFileSynced(temporary, bytes, flags);
  await rename(temporary, file);
}

/** Replaces `file` with `content` so that a crash leaves either the old or the new version. */
export async function replaceFileAtomically(file: string, directory: string, content: string): Promise<void> {
  await renameSyncedFile(`${file}.tmp`, file, Buffer.from(content, 'utf8'), 'w');
  await fsyncDirectory(directory);
}
