/**
 * The screenshot saver: for one request, the files a replay already saved, or the image
 * downloaded (allow-list, auth, retries), cut to the object, its metadata copy, and both
 * written to every enabled storage target. It never throws: what goes wrong is the reason in
 * its answer, so that the event is stored anyway, without paths.
 */
import path from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Agent } from 'undici';
import type { ScreenshotsConfig } from '../config/screenshots-schema.js';
import { CONFIG_ROOT } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { removeStaleTempFiles } from '../stale-temp-files.js';
import { cropPng } from './crop.js';
import { downloadWithRetries } from './download.js';
import { ScreenshotFailure } from './failure.js';
import { screenshotBaseName, temporaryFileOwner, type ImageFormat } from './file-names.js';
import { createHttpAgent } from './http-agent.js';
import { verifiedFormat } from './image-format.js';
import { createImageSource, type ImageSource } from './image-source.js';
import { metadataLines, renderMetadataImage } from './metadata-image.js';
import type { ScreenshotOutcome, ScreenshotRequest, ScreenshotSaver } from './request.js';
import { isComplete, ScreenshotStore, storedPaths } from './storage.js';
import { HostAllowList, loggableUrl, parseImageUrl } from './url-policy.js';

export interface ScreenshotSaverDeps {
  logger: Logger;
  /** Where relative storage directories and certificate files are resolved from. */
  baseDir: string;
}

/** Crops and metadata images are made for PNG, what Qlik renders; other formats are kept as sent. */
const IMAGE_WORK_FORMAT: ImageFormat = 'png';

interface Image {
  format: ImageFormat;
  bytes: Buffer;
}

class DownloadingScreenshotSaver implements ScreenshotSaver {
  private readonly allowList: HostAllowList;
  private readonly store: ScreenshotStore;
  private readonly source: ImageSource;
  private readonly closing = new AbortController();
  /**
   * One image decoded at a time: sharp works on libuv's thread pool, which the journal's
   * fsyncs share, and each large image holds its decoded pixels in memory.
   */
  private readonly imageWork: LimitFunction = pLimit(1);

  constructor(
    private readonly config: ScreenshotsConfig,
    directories: readonly string[],
    private readonly agent: Agent,
    private readonly deps: ScreenshotSaverDeps,
  ) {
    this.allowList = new HostAllowList(config.allowedImageDownloadHosts);
    this.store = new ScreenshotStore(directories);
    this.source = createImageSource({
      config,
      dispatcher: agent,
      allowList: this.allowList,
      logger: deps.logger,
    });
  }

  async save(request: ScreenshotRequest): Promise<ScreenshotOutcome> {
    try {
      return await this.saveOrFail(request);
    } catch (error) {
      return {
        saved: false,
        reason:
          error instanceof ScreenshotFailure ? error.reason : `unexpected error: ${errorMessage(error)}`,
      };
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.source.close();
    await this.agent.close();
  }

  private async saveOrFail(request: ScreenshotRequest): Promise<ScreenshotOutcome> {
    if (this.allowList.isEmpty)
      throw new ScreenshotFailure(
        'allowedImageDownloadHosts is empty, so nothing is downloaded (fail closed)',
      );
    if (this.store.directories.length === 0)
      throw new ScreenshotFailure('destination.screenshots.storageTargets has no enabled target');
    const baseName = screenshotBaseName(request.eventTimeMs, request.eventId, request.correlationId);
    const { enable, fields } = this.config.addInImageMetadata;
    const lines = enable ? metadataLines(fields, request) : [];
    const metadataWanted = (format: ImageFormat) => lines.length > 0 && format === IMAGE_WORK_FORMAT;

    const stored = await this.store.find(baseName, metadataWanted);
    if (stored && isComplete(stored)) {
      this.deps.logger.debug(`screenshots: event ${request.eventId}: files found, nothing downloaded`);
      return { saved: true, savedPaths: storedPaths(stored), downloaded: false };
    }
    // A target lacks a file (a crash mid-way, a target added): made from one that holds it.
    const image = stored
      ? { format: stored.format, bytes: await this.store.readExisting(stored) }
      : await this.download(request);
    const { savedPaths, failures } = await this.store.write(baseName, {
      format: image.format,
      image: image.bytes,
      // Drawn only when a target lacks the copy.
      metadata: metadataWanted(image.format) ? () => this.metadataImage(request, image, lines) : null,
    });
    if (savedPaths.length === 0) throw new ScreenshotFailure(`not written: ${failures.join('; ')}`);
    for (const failure of failures)
      this.deps.logger.warn(`screenshots: event ${request.eventId}: not written to ${failure}`);
    return { saved: true, savedPaths, downloaded: !stored };
  }

  private async download(request: ScreenshotRequest): Promise<Image> {
    const url = this.allowList.check(parseImageUrl(request.url));
    const fetched = await downloadWithRetries((signal) => this.source.fetch(url, request, signal), {
      timeoutMs: this.config.downloadTimeoutMs,
      closing: this.closing.signal,
    });
    const format = await verifiedFormat(fetched.bytes, fetched.contentType);
    this.deps.logger.debug(
      `screenshots: event ${request.eventId}: ${fetched.bytes.length} bytes of ${format} from ${loggableUrl(url)}`,
    );
    if (format !== IMAGE_WORK_FORMAT || !request.crop) return { format, bytes: fetched.bytes };
    const crop = request.crop;
    return this.imageWork(async () => {
      try {
        return { format, bytes: (await cropPng(fetched.bytes, crop)).bytes };
      } catch (error) {
        this.deps.logger.warn(
          `screenshots: event ${request.eventId}: could not crop the screenshot, the uncropped image is kept: ${errorMessage(error)}`,
        );
        return { format, bytes: fetched.bytes };
      }
    });
  }

  private metadataImage(request: ScreenshotRequest, image: Image, lines: string[]): Promise<Buffer | null> {
    return this.imageWork(async () => {
      try {
        return await renderMetadataImage(image.bytes, lines);
      } catch (error) {
        this.deps.logger.warn(
          `screenshots: event ${request.eventId}: no metadata image, the screenshot is saved without it: ${errorMessage(error)}`,
        );
        return null;
      }
    });
  }
}

/** The absolute directories of the enabled storage targets, each once. */
function enabledTargetDirectories(config: ScreenshotsConfig, baseDir: string): string[] {
  const targets = config.storageTargets.filter((target) => target.enable);
  return [...new Set(targets.map((target) => path.resolve(baseDir, target.directory)))];
}

/** What an administrator should know at start about these settings. */
function screenshotStartWarnings(config: ScreenshotsConfig, directories: readonly string[]): string[] {
  const warnings: string[] = [];
  const key = `${CONFIG_ROOT}.destination.screenshots`;
  if (config.allowedImageDownloadHosts.length === 0)
    warnings.push(
      `${key}.allowedImageDownloadHosts is empty: no screenshot is downloaded (fail closed); list the Qlik Sense host names`,
    );
  if (directories.length === 0)
    warnings.push(`${key}.storageTargets has no enabled target: no screenshot is saved`);
  if (config.auth.mode === 'userTicket')
    warnings.push(
      `${key}.auth.mode is userTicket: the page that posts an event chooses whose Qlik session fetches its screenshot ` +
        '(limited to /tempcontent/ paths on allowed hosts); prefer qpsTicket with a service user',
    );
  return warnings;
}

/**
 * The saver when `enable` is true, after warning what its settings leave out; undefined when
 * screenshots are off. Throws (before anything else is opened) when a certificate cannot be read.
 */
export async function openScreenshotSaver(
  config: ScreenshotsConfig,
  deps: ScreenshotSaverDeps,
): Promise<ScreenshotSaver | undefined> {
  if (!config.enable) return undefined;
  const directories = enabledTargetDirectories(config, deps.baseDir);
  for (const warning of screenshotStartWarnings(config, directories)) deps.logger.warn(warning);
  return startSaver(config, directories, deps);
}

/** The saver for `destination.screenshots`; reads the client certificate files of auth.tls. */
export function createScreenshotSaver(
  config: ScreenshotsConfig,
  deps: ScreenshotSaverDeps,
): Promise<ScreenshotSaver> {
  return startSaver(config, enabledTargetDirectories(config, deps.baseDir), deps);
}

async function startSaver(
  config: ScreenshotsConfig,
  directories: readonly string[],
  deps: ScreenshotSaverDeps,
): Promise<ScreenshotSaver> {
  // A crash between writing a screenshot and renaming it leaves a hidden file nobody else removes.
  for (const directory of directories) await removeStaleTempFiles(directory, temporaryFileOwner, deps.logger);
  const agent = await createHttpAgent(config.auth.tls, deps.baseDir);
  return new DownloadingScreenshotSaver(config, directories, agent, deps);
}
