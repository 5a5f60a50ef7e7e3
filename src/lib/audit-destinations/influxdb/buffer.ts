/**
 * The InfluxDB destination: the shared hybrid buffer around a sink that turns records into
 * points and writes them through the v1, v2 or v3 writer. What the sink adds is the error
 * policy of SPEC 4.3: a batch the server refuses for some of its points is split with
 * progressive batch sizes until the refused points are isolated; those go to the dead-letter
 * file with the server's message, the rest is written, and nothing blocks the events behind.
 */
import type { AuditRecord } from '../../audit-events/types.js';
import type { InfluxdbConfig } from '../../config/schema.js';
import { TransientError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DeadLetterFile, type DeadLetterRecord } from '../dead-letter.js';
import { PartialWriteError, type BatchItem, type BatchSink } from '../destination.js';
import {
  bufferedAuditDestination,
  HybridBuffer,
  type BufferedAuditDestination,
  type CloseOptions,
} from '../hybrid-buffer.js';
import { startInfluxSetup } from './init.js';
import { toLineProtocol } from './line-protocol.js';
import {
  buildAuditInfluxPointModel,
  influxMappingOptions,
  resolveIdTags,
  type InfluxMappingOptions,
  type InfluxPointModel,
} from './point-model.js';
import { createInfluxPointWriter, InfluxWriteError, type InfluxPointWriter } from './writers.js';

export const INFLUXDB_DESTINATION_ID = 'influxdb';

/** The seeds' progressive batch sizes, after the configured maxBatchSize. */
const ISOLATION_STEPS = [500, 250, 100, 10, 1];

/** A configuration problem is logged at most this often (the buffer keeps retrying). */
const CONFIG_PROBLEM_LOG_INTERVAL_MS = 60_000;

interface PendingPoint {
  item: BatchItem<AuditRecord>;
  point: InfluxPointModel;
}

/** The next, smaller batch size to try for a refused chunk of `length` points. */
export function nextIsolationSize(length: number, maxBatchSize: number): number {
  return [maxBatchSize, ...ISOLATION_STEPS].find((size) => size < length) ?? 1;
}

function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** What a user should change when the server says the configuration is wrong. */
function configurationFix(error: InfluxWriteError, config: InfluxdbConfig): string {
  const where = `${config.protocol}://${config.host}:${config.port} (InfluxDB v${config.version})`;
  if (error.details.status === 404) {
    return `the database or bucket does not exist on ${where}: create it, or check destination.influxdb.v${config.version}Config`;
  }
  return `the server at ${where} refused the credentials: check the token/username/password in destination.influxdb.v${config.version}Config and their write permission`;
}

export interface InfluxBatchSinkOptions {
  writer: InfluxPointWriter;
  mapping: InfluxMappingOptions;
  maxStringFieldBytes: number;
  maxBatchSize: number;
  deadLetter: DeadLetterFile;
  config: InfluxdbConfig;
  logger: Logger;
  now?: () => number;
}

export class InfluxBatchSink implements BatchSink<AuditRecord> {
  private lastConfigProblemLoggedAt = -Infinity;

  constructor(private readonly options: InfluxBatchSinkOptions) {}

  /**
   * Writes or dead-letters every item of the batch. On a transient or configuration error
   * the items not yet handled go back to the buffer (PartialWriteError when some were).
   */
  async write(batch: BatchItem<AuditRecord>[]): Promise<void> {
    const pending = batch.map((item) => ({ item, point: buildAuditInfluxPointModel(item.value, this.options.mapping) }));
    const handled = new Set<BatchItem<AuditRecord>>();
    try {
      await this.writeIsolating(pending, handled);
    } catch (error) {
      const retryable = this.toRetryable(error);
      if (handled.size === 0) throw retryable;
      throw new PartialWriteError(
        batch.filter((item) => !handled.has(item)),
        retryable,
      );
    }
  }

  async close(): Promise<void> {
    await this.options.writer.close();
  }

  /** Writes the chunk; when the server refuses points in it, narrows down to them. */
  private async writeIsolating(chunk: PendingPoint[], handled: Set<BatchItem<AuditRecord>>): Promise<void> {
    try {
      await this.options.writer.write(chunk.map((entry) => entry.point));
      for (const entry of chunk) handled.add(entry.item);
      return;
    } catch (error) {
      if (!(error instanceof InfluxWriteError) || !['rejected', 'too-large'].includes(error.kind)) throw error;
      if (chunk.length === 1) {
        await this.deadLetter(chunk[0], error);
        handled.add(chunk[0].item);
        return;
      }
      // 413 halves the batch; a refused point narrows with the progressive sizes.
      const size =
        error.kind === 'too-large'
          ? Math.ceil(chunk.length / 2)
          : nextIsolationSize(chunk.length, this.options.maxBatchSize);
      for (const part of chunks(chunk, size)) await this.writeIsolating(part, handled);
    }
  }

  private async deadLetter(entry: PendingPoint, error: InfluxWriteError): Promise<void> {
    const record: DeadLetterRecord = {
      eventId: entry.point.eventId,
      seq: entry.item.seq,
      payload: toLineProtocol(entry.point, { maxStringFieldBytes: this.options.maxStringFieldBytes }),
      reason: error.details.serverMessage ?? error.message,
      status: error.details.status,
    };
    await this.options.deadLetter.append([record]);
    this.options.logger.error(
      { eventId: record.eventId, seq: record.seq, status: record.status, file: this.options.deadLetter.currentPath() },
      `InfluxDB refused event ${record.eventId} (${record.reason}); moved to the dead-letter file`,
    );
  }

  /** Every error the buffer sees is retryable: configuration problems too, logged with their fix. */
  private toRetryable(error: unknown): TransientError {
    if (!(error instanceof InfluxWriteError)) {
      return new TransientError(error instanceof Error ? error.message : String(error), undefined, { cause: error });
    }
    if (error.kind === 'configuration') this.logConfigurationProblem(error);
    return new TransientError(error.message, error.details.retryAfterMs, { cause: error });
  }

  private logConfigurationProblem(error: InfluxWriteError): void {
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastConfigProblemLoggedAt < CONFIG_PROBLEM_LOG_INTERVAL_MS) return;
    this.lastConfigProblemLoggedAt = now;
    this.options.logger.error(
      { status: error.details.status, serverMessage: error.details.serverMessage },
      `InfluxDB write refused (${error.message}): ${configurationFix(error, this.options.config)}. ` +
        'Events are kept and retried; none are dropped.',
    );
  }
}

export interface InfluxdbDestinationDeps {
  logger: Logger;
  /** `<journal.directory>/dead-letter`, resolved. */
  deadLetterDirectory: string;
  /** For tests: a writer other than the one the config names. */
  writer?: InfluxPointWriter;
}

export type InfluxdbDestination = BufferedAuditDestination & {
  /** Resolves once the startup hooks have made the target ready. */
  ready: Promise<void>;
};

function warnAboutIdTags(config: InfluxdbConfig, logger: Logger): void {
  if (config.version === 3 || !resolveIdTags(config)) return;
  logger.warn(
    `destination.influxdb.idTags is true on InfluxDB v${config.version}: eventId, correlationId and selectionTxnId ` +
      'become tags, one new series per event. With default settings InfluxDB 1.x refuses every write after ' +
      '100,000 distinct values of a tag (max-values-per-tag), and InfluxDB 2 grows its series index without bound. ' +
      'Set idTags: false unless you know your server allows it.',
  );
}

export function createInfluxdbDestination(config: InfluxdbConfig, deps: InfluxdbDestinationDeps): InfluxdbDestination {
  warnAboutIdTags(config, deps.logger);
  const sink = new InfluxBatchSink({
    writer: deps.writer ?? createInfluxPointWriter(config, deps.logger),
    mapping: influxMappingOptions(config),
    maxStringFieldBytes: config.maxStringFieldBytes,
    maxBatchSize: config.maxBatchSize,
    deadLetter: new DeadLetterFile(deps.deadLetterDirectory, INFLUXDB_DESTINATION_ID),
    config,
    logger: deps.logger,
  });
  const buffer = new HybridBuffer<AuditRecord>({
    id: INFLUXDB_DESTINATION_ID,
    maxBatchSize: config.maxBatchSize,
    writeFrequency: config.writeFrequency,
    sink,
    logger: deps.logger,
  });
  const setup = startInfluxSetup(config, deps.logger);
  const destination = bufferedAuditDestination(buffer, INFLUXDB_DESTINATION_ID);
  return {
    ...destination,
    ready: setup.ready,
    async close(options?: CloseOptions) {
      setup.stop();
      await destination.close(options);
    },
  };
}
