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
import { toLineProtocol, type LineProtocolOptions } from './line-protocol.js';
import {
  buildAuditInfluxPointModel,
  influxMappingOptions,
  resolveIdTags,
  type InfluxMappingOptions,
} from './point-model.js';
import { refusesCredentials } from './write-errors.js';
import {
  createInfluxPointWriter,
  influxConnection,
  InfluxWriteError,
  type InfluxPointWriter,
} from './writers.js';

export const INFLUXDB_DESTINATION_ID = 'influxdb';

/** The seeds' progressive batch sizes, after the configured maxBatchSize. */
const ISOLATION_STEPS = [500, 250, 100, 10, 1];

/** A configuration problem is logged at most this often (the buffer keeps retrying). */
const CONFIG_PROBLEM_LOG_INTERVAL_MS = 60_000;

/** An item with its line, converted once per write() and sent as it is by every attempt. */
interface PendingPoint {
  item: BatchItem<AuditRecord>;
  eventId: string;
  line: string;
}

/** A point the server refused for its content, waiting for the batch's one dead-letter append. */
interface RefusedPoint {
  entry: PendingPoint;
  error: InfluxWriteError;
}

/** The next, smaller batch size to try for a refused chunk of `length` points. */
function nextIsolationSize(length: number, maxBatchSize: number): number {
  return [maxBatchSize, ...ISOLATION_STEPS].find((size) => size < length) ?? 1;
}

function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** What a user should change when the server says the configuration is wrong. */
function configurationFix(error: InfluxWriteError, config: InfluxdbConfig): string {
  const where = `${influxConnection(config).url} (InfluxDB v${config.version})`;
  const block = `destination.influxdb.v${config.version}Config`;
  const status = error.details.status;
  if (status === 404) {
    return `the database or bucket does not exist on ${where}: create it, or check ${block}`;
  }
  if (refusesCredentials(status)) {
    return `the server at ${where} refused the credentials: check the token/username/password in ${block} and their write permission`;
  }
  if (status === 413) {
    return (
      `a single event is larger than ${where}, or a proxy in front of it, accepts in one request: ` +
      'raise that request size limit, or lower destination.influxdb.maxStringFieldBytes'
    );
  }
  return `the server at ${where} refused the request itself, not its events: check ${block} and the server`;
}

interface InfluxBatchSinkOptions {
  writer: InfluxPointWriter;
  deadLetter: DeadLetterFile;
  config: InfluxdbConfig;
  logger: Logger;
  now?: () => number;
  /** False while writing must wait for the startup hooks (see createInfluxdbDestination). */
  targetReady?: () => boolean;
}

class InfluxBatchSink implements BatchSink<AuditRecord> {
  private readonly mapping: InfluxMappingOptions;
  private readonly lineProtocol: LineProtocolOptions;
  private lastConfigProblemLoggedAt = -Infinity;

  constructor(private readonly options: InfluxBatchSinkOptions) {
    this.mapping = influxMappingOptions(options.config);
    this.lineProtocol = { maxStringFieldBytes: options.config.maxStringFieldBytes };
  }

  /**
   * Writes or dead-letters every item of the batch. On a transient or configuration error
   * the items not yet handled go back to the buffer (PartialWriteError when some were).
   */
  async write(batch: BatchItem<AuditRecord>[]): Promise<void> {
    if (this.options.targetReady?.() === false) {
      throw new TransientError('the InfluxDB target is not confirmed to exist yet; events wait');
    }
    const pending = batch.map((item) => this.toPendingPoint(item));
    const handled = new Set<BatchItem<AuditRecord>>();
    const refused: RefusedPoint[] = [];
    let failure: unknown;
    try {
      await this.writeIsolating(pending, handled, refused);
    } catch (error) {
      failure = error;
    }
    // One append for the whole batch, still before write() returns or throws: the buffer acks
    // only after that, so a dead-lettered event is on disk before it leaves the event log.
    try {
      await this.deadLetter(refused);
      for (const { entry } of refused) handled.add(entry.item);
    } catch (error) {
      // Kept unacked: the next attempt is refused again and dead-letters them again.
      failure ??= error;
    }
    if (failure === undefined) return;
    const retryable = this.toRetryable(failure);
    if (handled.size === 0) throw retryable;
    throw new PartialWriteError(
      batch.filter((item) => !handled.has(item)),
      retryable,
    );
  }

  async close(): Promise<void> {
    await this.options.writer.close();
  }

  private toPendingPoint(item: BatchItem<AuditRecord>): PendingPoint {
    const point = buildAuditInfluxPointModel(item.value, this.mapping);
    return { item, eventId: point.eventId, line: toLineProtocol(point, this.lineProtocol) };
  }

  /** Writes the chunk; when the server refuses points in it, narrows down to them. */
  private async writeIsolating(
    chunk: PendingPoint[],
    written: Set<BatchItem<AuditRecord>>,
    refused: RefusedPoint[],
  ): Promise<void> {
    try {
      await this.options.writer.write(chunk.map((entry) => entry.line));
      for (const entry of chunk) written.add(entry.item);
    } catch (error) {
      if (!(error instanceof InfluxWriteError) || !['rejected', 'too-large'].includes(error.kind))
        throw error;
      if (chunk.length > 1) {
        // 413 halves the batch; a refused point narrows with the progressive sizes.
        const size =
          error.kind === 'too-large'
            ? Math.ceil(chunk.length / 2)
            : nextIsolationSize(chunk.length, this.options.config.maxBatchSize);
        for (const part of chunks(chunk, size)) await this.writeIsolating(part, written, refused);
      } else if (error.kind === 'rejected') {
        refused.push({ entry: chunk[0], error });
      } else {
        // A 413 for one point is a size limit of the server or of a proxy: a setting to fix,
        // not a poison point. Kept and retried like any configuration problem.
        throw new InfluxWriteError(error.message, 'configuration', error.details, { cause: error });
      }
    }
  }

  private async deadLetter(refused: RefusedPoint[]): Promise<void> {
    const records: DeadLetterRecord[] = refused.map(({ entry, error }) => ({
      eventId: entry.eventId,
      seq: entry.item.seq,
      payload: entry.line,
      reason: error.details.serverMessage ?? error.message,
      status: error.details.status,
    }));
    await this.options.deadLetter.append(records);
    for (const record of records) {
      this.options.logger.error(
        {
          eventId: record.eventId,
          seq: record.seq,
          status: record.status,
          file: this.options.deadLetter.currentPath(),
        },
        `InfluxDB refused event ${record.eventId} (${record.reason}); moved to the dead-letter file`,
      );
    }
  }

  /** Every error the buffer sees is retryable: configuration problems too, logged with their fix. */
  private toRetryable(error: unknown): TransientError {
    if (!(error instanceof InfluxWriteError)) {
      return new TransientError(error instanceof Error ? error.message : String(error), undefined, {
        cause: error,
      });
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

export function createInfluxdbDestination(
  config: InfluxdbConfig,
  deps: InfluxdbDestinationDeps,
): InfluxdbDestination {
  warnAboutIdTags(config, deps.logger);
  let setupDone = false;
  const sink = new InfluxBatchSink({
    writer: deps.writer ?? createInfluxPointWriter(config, deps.logger),
    deadLetter: new DeadLetterFile(deps.deadLetterDirectory, INFLUXDB_DESTINATION_ID),
    config,
    logger: deps.logger,
    // InfluxDB 3 creates a missing database on the first write to it: writing before the startup
    // check has seen the database would create the one that is never to be created (SPEC 4.4).
    targetReady: config.version === 3 ? () => setupDone : undefined,
  });
  const buffer = new HybridBuffer<AuditRecord>({
    id: INFLUXDB_DESTINATION_ID,
    maxBatchSize: config.maxBatchSize,
    writeFrequency: config.writeFrequency,
    sink,
    logger: deps.logger,
  });
  const setup = startInfluxSetup(config, deps.logger);
  // Writes failed while the target was missing or the server down; once it is ready, go now.
  void setup.ready.then(() => {
    setupDone = true;
    buffer.retryNow();
  });
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
