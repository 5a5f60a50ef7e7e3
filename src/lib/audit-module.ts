/**
 * The root object: builds the log, the destinations, one delivery loop per destination and
 * the HTTP API from one validated config, and starts and stops them in order, in one visible
 * place. No globals: tests build as many isolated modules as they like.
 */
import path from 'node:path';
import { buildAuditEventsApi } from './audit-events-api.js';
import type { AuditEnvelope } from './audit-events/types.js';
import {
  configuredDestinationIds,
  createAuditDestinationsFromConfig,
  deadLetterFileFor,
  keepsEnvelope,
} from './audit-destinations/index.js';
import type { AuditDestination } from './audit-destinations/destination.js';
import { openScreenshotSaver, type ScreenshotSaver } from './audit-screenshots/index.js';
import type { EventLog } from './audit-journal/event-log.js';
import { openJournal } from './audit-journal/journal.js';
import { MemoryEventLog } from './audit-journal/memory-log.js';
import type { AuditEventsConfig } from './config/schema.js';
import { CONFIG_ROOT } from './config/schema.js';
import { DeliveryLoop } from './delivery/delivery-loop.js';
import { AuditEventProcessor } from './delivery/processor.js';
import type { InfluxPointWriter } from './audit-destinations/influxdb/point-writer.js';
import { AuditMetrics, type MetricsSources } from './metrics/audit-metrics.js';
import { QueueMetricsWriter } from './metrics/queue-metrics.js';
import { ServiceUnavailableError, errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export interface AuditModuleDeps {
  logger: Logger;
  /** Where relative paths in the config are resolved from (default: the working directory). */
  baseDir?: string;
  /** Butler SOS version, reported by test-connection. */
  version: string;
  /** What the config asks for that this module does not do (validateAuditEventsConfig's warnings), logged at start. */
  configWarnings?: readonly string[];
}

export interface AuditModule {
  /** Starts destinations and the API; resolves with the address it listens on (null when disabled). */
  start(): Promise<{ host: string; port: number } | null>;
  /** Stops accepting (503), writes what the log holds within shutdownTimeoutMs, closes. */
  stop(): Promise<void>;
}

/** Seconds a client is asked to wait while the module shuts down. */
const SHUTDOWN_RETRY_AFTER_SECONDS = 10;

function logStartWarnings(config: AuditEventsConfig, logger: Logger): void {
  if (config.apiToken === '') {
    logger.warn(
      `${CONFIG_ROOT}.apiToken is empty: anyone who can reach the audit API can post events; set a token`,
    );
  }
  if (config.cors.allowedOrigins.includes('*')) {
    logger.warn(
      `${CONFIG_ROOT}.cors.allowedOrigins contains '*': any web page may call the audit API from a browser`,
    );
  }
  if (config.destination.influxdb?.maxBufferedPoints !== undefined) {
    logger.warn(
      `${CONFIG_ROOT}.destination.influxdb.maxBufferedPoints is ignored: events wait in the journal, not in memory; ` +
        'memory holds one batch in flight and one read ahead per destination',
    );
  }
  if (!config.journal.enable) {
    logger.warn(
      `${CONFIG_ROOT}.journal.enable is false: accepted events are held in memory only (up to queue.maxSize=${config.queue.maxSize}) ` +
        'until every destination has written them; a crash or kill -9 loses those events',
    );
  }
}

/** The durable journal, or the in-memory log when the journal is off. */
async function openEventLog(config: AuditEventsConfig, logger: Logger, baseDir: string): Promise<EventLog> {
  if (!config.journal.enable) return new MemoryEventLog(config.queue.maxSize);
  return openJournal({
    directory: path.resolve(baseDir, config.journal.directory),
    maxBytes: config.journal.maxBytes,
    fsync: config.journal.fsync,
    destinationIds: configuredDestinationIds(config.destination),
    logger,
  });
}

/**
 * Butler SOS's queue metrics, when asked for: written through the audit InfluxDB destination's
 * writer (`influxdbWriter`), so without one there is nowhere to write them (warned).
 */
function createQueueMetrics(
  config: AuditEventsConfig,
  influxdbWriter: InfluxPointWriter | undefined,
  metrics: AuditMetrics,
  sources: MetricsSources,
  logger: Logger,
): QueueMetricsWriter | null {
  const settings = config.queue.queueMetrics.influxdb;
  if (!settings.enable) return null;
  const influxdb = config.destination.influxdb;
  if (!influxdb || !influxdbWriter) {
    logger.warn(
      'queue.queueMetrics.influxdb.enable is true, but destination.type has no influxdb to write them to: not written',
    );
    return null;
  }
  return new QueueMetricsWriter({
    measurementName: settings.measurementName,
    tags: settings.tags,
    writeFrequency: settings.writeFrequency,
    backpressureThreshold: config.queue.backpressureThreshold,
    writer: influxdbWriter,
    lineProtocol: { maxStringFieldBytes: influxdb.maxStringFieldBytes },
    metrics,
    sources,
    logger,
  });
}

/** Records two destinations can share: each reads one batch in flight and one ahead. */
function sharedRecordBound(destinations: readonly AuditDestination[]): number {
  return 4 * Math.max(1, ...destinations.map((destination) => destination.maxBatchSize));
}

export function createAuditModule(config: AuditEventsConfig, deps: AuditModuleDeps): AuditModule {
  const { logger } = deps;
  const baseDir = deps.baseDir ?? process.cwd();
  let log: EventLog | null = null;
  let accepting = false;
  let destinations: readonly AuditDestination[] = [];
  let loops: DeliveryLoop[] = [];
  let processor: AuditEventProcessor | null = null;
  let queueMetrics: QueueMetricsWriter | null = null;
  let screenshots: ScreenshotSaver | undefined;
  let api: Awaited<ReturnType<typeof buildAuditEventsApi>> | null = null;
  /** Each loop's status, with the accepted events its destination has not written yet. */
  function destinationStatuses() {
    const lastSeq = log?.lastSeq ?? 0;
    return loops.map((loop) => {
      const status = loop.status();
      return { ...status, backlog: Math.max(0, lastSeq - status.checkpoint) };
    });
  }
  const sources: MetricsSources = {
    log: () => log?.backlog() ?? null,
    destinations: destinationStatuses,
    handlersRunning: () => processor?.handlersRunning ?? 0,
  };
  const metrics = new AuditMetrics(sources);

  async function accept(envelope: AuditEnvelope): Promise<void> {
    if (!accepting || !log) throw new ServiceUnavailableError('shutting down', SHUTDOWN_RETRY_AFTER_SECONDS);
    await log.append(envelope);
  }

  function health() {
    const statuses = destinationStatuses();
    return {
      healthy: statuses.every((status) => status.healthy),
      destinations: statuses,
      log: log?.backlog() ?? {},
    };
  }

  async function start() {
    if (!config.enable) {
      logger.info(`${CONFIG_ROOT}.enable is false: the audit API is not started`);
      return null;
    }
    for (const warning of deps.configWarnings ?? []) logger.warn(warning);
    logStartWarnings(config, logger);
    // Before the log opens: a certificate file it cannot read stops the start with nothing left open.
    screenshots = await openScreenshotSaver(config.destination.screenshots, { logger, baseDir });
    // The log first: destinations record its id next to the sequence numbers they keep.
    const eventLog = await openEventLog(config, logger, baseDir);
    log = eventLog;
    const built = await createAuditDestinationsFromConfig(config, { logger, baseDir, logId: eventLog.id });
    destinations = built.list;
    const recordSource = new AuditEventProcessor({
      maxConcurrent: config.queue.maxConcurrent,
      readers: destinations.length,
      maxShared: sharedRecordBound(destinations),
      record: { withEnvelope: keepsEnvelope(config) },
      logger,
      handlerDeps: { screenshots },
    });
    loops = destinations.map(
      (destination) =>
        new DeliveryLoop({
          destination,
          // A destination that already holds events (Parquet files after a crash) starts after them.
          cursor: eventLog.openCursor(destination.id, { atLeast: destination.durableThrough }),
          processor: recordSource,
          deadLetters: deadLetterFileFor(config, destination.id, baseDir),
          logger,
          wrote: (destinationId, seconds) => {
            metrics.batchWritten(destinationId, seconds);
            queueMetrics?.batchWritten(seconds);
          },
        }),
    );
    processor = recordSource;
    queueMetrics = createQueueMetrics(config, built.influxdbWriter, metrics, sources, logger);
    api = await buildAuditEventsApi({ config, logger, accept, health, metrics, version: deps.version });
    await api.listen({ host: config.host, port: config.port });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    for (const loop of loops) loop.start();
    queueMetrics?.start();
    accepting = true;
    logger.info(
      `audit API listening on ${config.tls.enable ? 'https' : 'http'}://${config.host}:${port}; ` +
        `destinations: ${destinations.map((destination) => destination.id).join(', ') || 'none'}`,
    );
    return { host: config.host, port };
  }

  /**
   * Lets every destination write what the log holds, within shutdownTimeoutMs, then closes the
   * log, which saves the checkpoints. What is not written by then stays in the journal for
   * the next start.
   */
  async function stop() {
    accepting = false;
    if (!log) return;
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const lastSeq = log.lastSeq;
    const drained = await Promise.all(loops.map((loop) => loop.drain(lastSeq, deadline)));
    for (const [index, done] of drained.entries()) {
      if (!done)
        logger.error(`destination ${loops[index].id} did not finish writing before the shutdown deadline`);
    }
    // Loops stop before their destinations close, so nothing is written to a closed sink.
    await Promise.all(loops.map((loop) => loop.stop()));
    await queueMetrics?.stop();
    await Promise.all(destinations.map((destination) => closeQuietly(destination, logger)));
    await screenshots?.close(); // ends the Qlik sessions it keeps
    await log.close();
    await api?.close();
    const left = log.backlog().entries;
    logger.info(
      left === 0
        ? 'audit module stopped; every accepted event is written'
        : `audit module stopped; ${left} accepted event(s) not yet written by every destination` +
            (config.journal.enable ? ' stay in the journal for the next start' : ' are lost (journal off)'),
    );
  }

  return { start, stop };
}

async function closeQuietly(destination: AuditDestination, logger: Logger): Promise<void> {
  try {
    await destination.close();
  } catch (error) {
    logger.error(`destination ${destination.id} failed to close: ${errorMessage(error)}`);
  }
}
