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
} from './audit-destinations/index.js';
import type { AuditDestination } from './audit-destinations/destination.js';
import {
  createScreenshotSaver,
  screenshotStartWarnings,
  type ScreenshotSaver,
} from './audit-screenshots/index.js';
import type { EventLog } from './audit-journal/event-log.js';
import { openJournal } from './audit-journal/journal.js';
import { MemoryEventLog } from './audit-journal/memory-log.js';
import type { AuditEventsConfig } from './config/schema.js';
import { DeliveryLoop } from './delivery/delivery-loop.js';
import { AuditEventProcessor } from './delivery/processor.js';
import { ServiceUnavailableError, errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export interface AuditModuleDeps {
  logger: Logger;
  /** Where relative paths in the config are resolved from (default: the working directory). */
  baseDir?: string;
  /** Butler SOS version, reported by test-connection. */
  version: string;
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
      'auditEvents.apiToken is empty: anyone who can reach the audit API can post events; set a token',
    );
  }
  if (config.cors.allowedOrigins.includes('*')) {
    logger.warn(
      "auditEvents.cors.allowedOrigins contains '*': any web page may call the audit API from a browser",
    );
  }
  if (config.destination.screenshots.enable) {
    for (const warning of screenshotStartWarnings(config.destination.screenshots)) logger.warn(warning);
  }
  if (config.destination.influxdb?.maxBufferedPoints !== undefined) {
    logger.warn(
      'auditEvents.destination.influxdb.maxBufferedPoints is ignored: events wait in the journal, not in memory; ' +
        'memory holds one batch in flight and one read ahead per destination',
    );
  }
  if (!config.journal.enable) {
    logger.warn(
      `journal.enable is false: accepted events are held in memory only (up to queue.maxSize=${config.queue.maxSize}) ` +
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

/** Records two destinations can share: each reads one batch in flight and one ahead. */
function sharedRecordBound(destinations: AuditDestination[]): number {
  return 4 * Math.max(1, ...destinations.map((destination) => destination.maxBatchSize));
}

export function createAuditModule(config: AuditEventsConfig, deps: AuditModuleDeps): AuditModule {
  const { logger } = deps;
  const baseDir = deps.baseDir ?? process.cwd();
  let log: EventLog | null = null;
  let accepting = false;
  let destinations: AuditDestination[] = [];
  let loops: DeliveryLoop[] = [];
  let screenshots: ScreenshotSaver | undefined;
  let api: Awaited<ReturnType<typeof buildAuditEventsApi>> | null = null;

  async function accept(envelope: AuditEnvelope): Promise<void> {
    if (!accepting || !log) throw new ServiceUnavailableError('shutting down', SHUTDOWN_RETRY_AFTER_SECONDS);
    await log.append(envelope);
  }

  function health() {
    const statuses = loops.map((loop) => loop.status());
    const lastSeq = log?.lastSeq ?? 0;
    return {
      healthy: statuses.every((status) => status.healthy),
      destinations: statuses.map((status) => ({
        ...status,
        backlog: Math.max(0, lastSeq - status.checkpoint),
      })),
      log: log?.backlog() ?? {},
    };
  }

  async function start() {
    if (!config.enable) {
      logger.info('auditEvents.enable is false: the audit API is not started');
      return null;
    }
    logStartWarnings(config, logger);
    // Before the log opens: a certificate file it cannot read stops the start with nothing left open.
    if (config.destination.screenshots.enable)
      screenshots = await createScreenshotSaver(config.destination.screenshots, { logger, baseDir });
    // The log first: destinations record its id next to the sequence numbers they keep.
    const eventLog = await openEventLog(config, logger, baseDir);
    log = eventLog;
    destinations = await createAuditDestinationsFromConfig(config.destination, {
      logger,
      baseDir,
      logId: eventLog.id,
    });
    const processor = new AuditEventProcessor({
      maxConcurrent: config.queue.maxConcurrent,
      readers: destinations.length,
      maxShared: sharedRecordBound(destinations),
      logger,
      handlerDeps: { screenshots },
    });
    loops = destinations.map(
      (destination) =>
        new DeliveryLoop({
          destination,
          // A destination that already holds events (Parquet files after a crash) starts after them.
          cursor: eventLog.openCursor(destination.id, { atLeast: destination.durableThrough }),
          processor,
          deadLetters: deadLetterFileFor(config, destination.id, baseDir),
          logger,
        }),
    );
    api = await buildAuditEventsApi({ config, logger, accept, health, version: deps.version });
    await api.listen({ host: config.host, port: config.port });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    for (const loop of loops) loop.start();
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
