/**
 * The InfluxDB destination: a sink that turns records into points (point-model.ts), points
 * into lines (line-protocol.ts), and writes them through the v1, v2 or v3 writer, plus the
 * startup hooks (init.ts). What the sink adds to the delivery loop is only what is
 * InfluxDB's: the conversion, what each answer means (write-errors.ts), and splitting a batch
 * the server finds too large (413). A batch the server refuses for its points is handed back
 * as refused: the loop narrows it down and dead-letters the refused points.
 */
import type { AuditRecord } from '../../audit-events/types.js';
import type { InfluxdbConfig } from '../../config/schema.js';
import { ConfigurationError, RefusedBatchError, TransientError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { AuditDestination } from '../destination.js';
import { allWritten, type BatchItem, type Rejection, type Sink, type WriteResult } from '../sink.js';
import { influxConnection } from './connection.js';
import { startInfluxSetup } from './init.js';
import { toLineProtocol, type LineProtocolOptions } from './line-protocol.js';
import {
  buildAuditInfluxPointModel,
  influxMappingOptions,
  resolveIdTags,
  type InfluxMappingOptions,
} from './point-model.js';
import type { InfluxPointWriter } from './point-writer.js';
import { InfluxWriteError, refusesCredentials } from './write-errors.js';
import { createInfluxPointWriter } from './writers.js';

/** An item with its line, converted once per write() and sent as it is by every attempt. */
interface PendingPoint {
  item: BatchItem<AuditRecord>;
  line: string;
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

const TARGET_NOT_CONFIRMED = 'the InfluxDB target is not confirmed to exist yet';

/**
 * A writer that sends nothing while `open()` is false: the one gate in front of the target
 * for everything written to it (events and queue metrics), see createInfluxdbDestination.
 */
class GatedPointWriter implements InfluxPointWriter {
  constructor(
    private readonly writer: InfluxPointWriter,
    readonly open: () => boolean,
  ) {}

  async write(lines: string[]): Promise<void> {
    if (!this.open()) throw new TransientError(TARGET_NOT_CONFIRMED);
    await this.writer.write(lines);
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

class InfluxSink implements Sink {
  private readonly mapping: InfluxMappingOptions;
  private readonly lineProtocol: LineProtocolOptions;
  /** Lines converted ahead by prepare(); gone with their items. */
  private readonly prepared = new WeakMap<BatchItem<AuditRecord>, string>();

  constructor(
    private readonly writer: GatedPointWriter,
    private readonly config: InfluxdbConfig,
  ) {
    this.mapping = influxMappingOptions(config);
    this.lineProtocol = { maxStringFieldBytes: config.maxStringFieldBytes };
  }

  /** Converts the points of a batch read ahead while the batch before it is written. */
  prepare(batch: readonly BatchItem<AuditRecord>[]): void {
    for (const item of batch) {
      try {
        this.prepared.set(item, this.lineOf(item));
      } catch {
        // write() converts it again and rejects it with the reason.
      }
    }
  }

  async write(batch: readonly BatchItem<AuditRecord>[]): Promise<WriteResult> {
    // Before converting: the whole batch waits, none of it is written or dead-lettered yet.
    if (!this.writer.open()) throw new TransientError(`${TARGET_NOT_CONFIRMED}; events wait in the journal`);
    const pending: PendingPoint[] = [];
    const rejected: Rejection[] = [];
    for (const item of batch) {
      try {
        pending.push({ item, line: this.prepared.get(item) ?? this.lineOf(item) });
      } catch (error) {
        rejected.push({
          item,
          reason: `could not convert the event to line protocol: ${errorMessage(error)}`,
        });
      }
    }
    const result = await this.writeSplittingTooLarge(pending);
    return { ...result, rejected: [...rejected, ...result.rejected] };
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  private lineOf(item: BatchItem<AuditRecord>): string {
    return toLineProtocol(buildAuditInfluxPointModel(item.value, this.mapping), this.lineProtocol);
  }

  /** Writes the chunk; a 413 halves it until the halves fit. */
  private async writeSplittingTooLarge(chunk: PendingPoint[]): Promise<WriteResult> {
    if (chunk.length === 0) return allWritten();
    try {
      await this.writer.write(chunk.map((entry) => entry.line));
      return allWritten();
    } catch (error) {
      if (error instanceof InfluxWriteError && error.kind === 'too-large' && chunk.length > 1) {
        const half = Math.ceil(chunk.length / 2);
        const first = await this.writeSplittingTooLarge(chunk.slice(0, half));
        if (first.kept.length > 0) {
          return { ...first, kept: [...first.kept, ...chunk.slice(half).map((entry) => entry.item)] };
        }
        return this.writeSplittingTooLarge(chunk.slice(half));
      }
      return { rejected: [], kept: chunk.map((entry) => entry.item), failure: this.meaningOf(error, chunk) };
    }
  }

  /** A writer's error as the delivery loop understands it. */
  private meaningOf(error: unknown, chunk: PendingPoint[]): unknown {
    if (!(error instanceof InfluxWriteError)) {
      return new TransientError(errorMessage(error), undefined, { cause: error });
    }
    const { status, serverMessage, retryAfterMs } = error.details;
    switch (error.kind) {
      case 'rejected':
        return new RefusedBatchError(
          serverMessage ?? error.message,
          { status, payload: chunk.length === 1 ? chunk[0].line : undefined },
          { cause: error },
        );
      case 'transient':
        return new TransientError(error.message, retryAfterMs, { cause: error });
      // A 413 for one point is a size limit of the server or of a proxy: a setting to fix, not
      // a poison point. Kept and retried like any configuration problem.
      case 'too-large':
      case 'configuration':
        return new ConfigurationError(error.message, configurationFix(error, this.config), retryAfterMs, {
          cause: error,
        });
    }
  }
}

export interface InfluxdbDestinationDeps {
  logger: Logger;
  /** For tests: a writer other than the one the config names. */
  writer?: InfluxPointWriter;
}

function warnAboutIdTags(config: InfluxdbConfig, logger: Logger): void {
  if (config.version === 3 || !resolveIdTags(config)) return;
  logger.warn(
    `destination.influxdb.idTags is true on InfluxDB v${config.version}: eventId, correlationId and selectionTxnId ` +
      'become tags, one new series per event. With default settings InfluxDB 1.x refuses every write after ' +
      '100,000 distinct values of a tag (max-values-per-tag), and InfluxDB 2 grows its series index without bound. ' +
      'Set idTags: false unless you know your server allows it.',
  );
}

/** The InfluxDB destination, with its writer for other points to the same target (queue metrics). */
export interface InfluxdbDestination extends AuditDestination {
  /**
   * Held back by the same startup gate as the events; closed with the destination. It sends
   * the lines of toLineProtocol() as they are, one request per write.
   */
  readonly writer: InfluxPointWriter;
}

export function createInfluxdbDestination(
  config: InfluxdbConfig,
  deps: InfluxdbDestinationDeps,
): InfluxdbDestination {
  warnAboutIdTags(config, deps.logger);
  let setupDone = false;
  // InfluxDB 3 creates a missing database on the first write to it: writing before the startup
  // check has seen the database would create the one that is never to be created.
  const writer = new GatedPointWriter(
    deps.writer ?? createInfluxPointWriter(config, deps.logger),
    config.version === 3 ? () => setupDone : () => true,
  );
  const sink = new InfluxSink(writer, config);
  const setup = startInfluxSetup(config, deps.logger);
  void setup.ready.then(() => (setupDone = true));
  return {
    id: 'influxdb',
    sink,
    writer,
    maxBatchSize: config.maxBatchSize,
    writeFrequency: config.writeFrequency,
    durableThrough: 0,
    ready: setup.ready,
    async close() {
      setup.stop();
      await sink.close();
    },
  };
}
