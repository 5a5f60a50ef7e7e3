/**
 * The storage targets (`storageTargets`, type flat): every enabled one gets each screenshot,
 * written atomically (a hidden temporary file, fsync, rename, then the directory synced), so
 * that a crash never leaves half an image under the final name. What is already there is
 * found by name: a replayed event reuses its files and downloads nothing.
 */
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, writeNewFileDurably } from '../durable-files.js';
import { errorMessage } from '../errors.js';
import {
  IMAGE_EXTENSIONS,
  imageFileName,
  metadataFileName,
  temporaryFileName,
  type ImageFormat,
} from './file-names.js';

/** One screenshot file in each target, and whether it is there already. */
interface TargetFile {
  directory: string;
  file: string;
  exists: boolean;
}

/** What the targets hold of one event's screenshot. */
export interface StoredScreenshot {
  format: ImageFormat;
  images: TargetFile[];
  /** Empty when no metadata copy is wanted for this format. */
  metadata: TargetFile[];
}

export interface ImageFiles {
  format: ImageFormat;
  image: Buffer;
  metadata: Buffer | null;
}

export interface WriteResult {
  /** Absolute paths in the order of the targets: each image, then its metadata copy. */
  savedPaths: string[];
  /** One line per target that could not be written. */
  failures: string[];
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** `name` inside `directory`, refusing anything that would land elsewhere (file-names.ts makes that impossible). */
function fileIn(directory: string, name: string): string {
  const file = path.join(directory, name);
  if (path.dirname(file) !== directory) throw new Error(`'${name}' is not a plain file name`);
  return file;
}

async function publish(directory: string, file: string, bytes: Buffer): Promise<void> {
  const temporary = fileIn(directory, temporaryFileName());
  try {
    await writeNewFileDurably(temporary, bytes);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await fsyncDirectory(directory);
}

export class ScreenshotStore {
  /** Absolute directories of the enabled targets. */
  constructor(readonly directories: readonly string[]) {}

  /**
   * The first format any target holds an image of, with every target's files of that format;
   * null when no target holds any. `metadataWanted` says for which formats a copy is made.
   */
  async find(
    baseName: string,
    metadataWanted: (format: ImageFormat) => boolean,
  ): Promise<StoredScreenshot | null> {
    for (const format of Object.keys(IMAGE_EXTENSIONS) as ImageFormat[]) {
      const images = await this.filesNamed(imageFileName(baseName, format));
      if (!images.some((image) => image.exists)) continue;
      const metadata = metadataWanted(format)
        ? await this.filesNamed(metadataFileName(baseName, format))
        : [];
      return { format, images, metadata };
    }
    return null;
  }

  /** Writes what the targets lack; the paths of what they then hold. */
  async write(baseName: string, files: ImageFiles): Promise<WriteResult> {
    const failures: string[] = [];
    const perTarget = await Promise.all(
      this.directories.map(async (directory) => {
        const written: string[] = [];
        try {
          await mkdir(directory, { recursive: true });
          const image = fileIn(directory, imageFileName(baseName, files.format));
          if (!(await exists(image))) await publish(directory, image, files.image);
          written.push(image);
          if (files.metadata) {
            const metadata = fileIn(directory, metadataFileName(baseName, files.format));
            if (!(await exists(metadata))) await publish(directory, metadata, files.metadata);
            written.push(metadata);
          }
        } catch (error) {
          failures.push(`storage target '${directory}': ${errorMessage(error)}`);
        }
        return written;
      }),
    );
    return { savedPaths: perTarget.flat(), failures };
  }

  /** The bytes of an image a target already holds. */
  readExisting(stored: StoredScreenshot): Promise<Buffer> {
    const held = stored.images.find((image) => image.exists);
    if (!held) throw new Error('no target holds the image');
    return readFile(held.file);
  }

  private filesNamed(name: string): Promise<TargetFile[]> {
    return Promise.all(
      this.directories.map(async (directory) => {
        const file = fileIn(directory, name);
        return { directory, file, exists: await exists(file) };
      }),
    );
  }
}

/** Whether every target holds every file of the screenshot. */
export function isComplete(stored: StoredScreenshot): boolean {
  return [...stored.images, ...stored.metadata].every((file) => file.exists);
}

/** The paths of a complete screenshot, in the order of the targets. */
export function storedPaths(stored: StoredScreenshot): string[] {
  return stored.images.flatMap((image, index) =>
    stored.metadata[index] ? [image.file, stored.metadata[index].file] : [image.file],
  );
}
