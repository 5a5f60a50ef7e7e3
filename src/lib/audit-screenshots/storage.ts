/**
 * The storage targets (`storageTargets`, type flat): every enabled one gets each screenshot,
 * written atomically (a hidden temporary file, fsync, rename, then the directory synced), so
 * that a crash never leaves half an image under the final name. What is already there is
 * found by name: a replayed event reuses its files and downloads nothing.
 */
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, renameSyncedFile } from '../durable-files.js';
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
  /**
   * Makes the metadata copy, called once and only when a target lacks it (null: it could not be
   * made); null when no copy is wanted.
   */
  metadata: (() => Promise<Buffer | null>) | null;
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

/** Renames `bytes` into `file` (in `directory`); durable once the directory is synced. */
async function publish(directory: string, file: string, bytes: Buffer): Promise<void> {
  const temporary = fileIn(directory, temporaryFileName());
  try {
    await renameSyncedFile(temporary, file, bytes, 'wx');
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
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

  /** Writes what the targets lack, durably; the paths of what they then hold. */
  async write(baseName: string, files: ImageFiles): Promise<WriteResult> {
    const failures: string[] = [];
    let metadata: Promise<Buffer | null> | undefined;
    const wanted: Array<[name: string, bytes: () => Promise<Buffer | null>]> = [
      [imageFileName(baseName, files.format), () => Promise.resolve(files.image)],
    ];
    const makeMetadata = files.metadata;
    if (makeMetadata)
      wanted.push([metadataFileName(baseName, files.format), () => (metadata ??= makeMetadata())]);
    const perTarget = await Promise.all(
      this.directories.map(async (directory) => {
        const written: string[] = [];
        let renamed = false;
        let failure: unknown;
        try {
          await mkdir(directory, { recursive: true });
          for (const [name, bytesOf] of wanted) {
            const file = fileIn(directory, name);
            if (!(await exists(file))) {
              const bytes = await bytesOf();
              if (!bytes) continue;
              await publish(directory, file, bytes);
              renamed = true;
            }
            written.push(file);
          }
        } catch (error) {
          failure = error;
        }
        // One sync of the directory makes all its renames above durable, those before a failure too.
        if (renamed) {
          try {
            await fsyncDirectory(directory);
          } catch (error) {
            failure ??= error;
            written.length = 0;
          }
        }
        if (failure !== undefined) failures.push(`storage target '${directory}': ${errorMessage(failure)}`);
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
        return { file, exists: await exists(file) };
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
