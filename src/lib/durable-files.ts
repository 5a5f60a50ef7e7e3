/**
 * The few file-system moves that must survive a crash, shared by the journal and the Parquet
 * destination: a directory entry made durable, a whole buffer written at a position, a new
 * file written and synced, a small file replaced atomically.
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

/** Creates `file` (failing if it exists) with `bytes`, synced before it is closed. */
export async function writeNewFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `content` so that a crash leaves either the old or the new version. */
export async function replaceFileAtomically(file: string, directory: string, content: string): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await writeFully(handle, Buffer.from(content, 'utf8'), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  await fsyncDirectory(directory);
}
