/**
 * The destination registry: which destinations the config asks for, built from their config
 * blocks. A new destination is one sink plus one entry here; the HTTP layer, the log and the
 * delivery loop do not change. It also gives writeAuditEventToDestinations(), the seam the
 * design names for a host that runs its own queue instead of the journal.
 */
import path from 'node:path';
import { toAuditRecord } from '../audit-events/record.js';
import type { AuditEnvelope, AuditRecord, HandlerExtras } from '../audit-events/types.js';
import type { AuditEventsConfig, DestinationType } from '../config/schema.js';
import { parseDestinationTypes } from '../config/validate.js';
import { RefusedBatchError, errorMessage } from '../errors.js';
import { prefixedLogger, type Logger } from '../logger.js';
import { DeadLetterFile, deadLetterRecordOf } from './dead-letter.js';
import type { AuditDestination } from './destination.js';
import { createInfluxdbDestination } from './influxdb/buffer.js';
import type { InfluxPointWriter } from './influxdb/point-writer.js';
import { createParquetDestination } from './parquet/writer.js';

export interface DestinationDeps {
  logger: Logger;
  /** Where relative directories in the config are resolved from. */
  baseDir: string;
  /** The event log the destinations read (its id is recorded where they keep sequence numbers). */
  logId?: string;
}

/** The destinations the config turns on; each destination's id is its type name. */
export function configuredDestinationIds(
  destinationConfig: AuditEventsConfig['destination'],
): DestinationType[] {
  return destinationConfig.enable ? parseDestinationTypes(destinationConfig.type).types : [];
}

/** Whether a destination stores the envelope itself (Parquet's envelope column): records then carry it. */
export function keepsEnvelope(config: AuditEventsConfig): boolean {
  return (
    configuredDestinationIds(config.destination).includes('parquet') &&
    config.destination.parquet.includeEnvelope
  );
}

/** `<journal.directory>/dead-letter/<destination>-YYYYMMDD.ndjson`, resolved against `baseDir`. */
export function deadLetterFileFor(
  config: AuditEventsConfig,
  destinationId: string,
  baseDir: string,
): DeadLetterFile {
  return new DeadLetterFile(path.resolve(baseDir, config.journal.directory, 'dead-letter'), destinationId);
}

export interface AuditDestinations {
  /** The configured destinations, each with its sink and batching (the delivery loops read these). */
  readonly list: readonly AuditDestination[];
  /**
   * The InfluxDB destination's writer, when there is one, for the queue metrics: the same
   * client and the same startup gate as the events; the destination closes it.
   */
  readonly influxdbWriter?: InfluxPointWriter;
  /**
   * writeAuditEventToDestinations(), as the seeds name it, for a host that runs its own queue
   * instead of the journal: writes one event, with the extras its handler computed, to every
   * destination now. A destination that refuses the event for its content gets it in its
   * dead-letter file; one that cannot write it now (down, misconfigured) does not stop the others,
   * and the promise then rejects with every such failure, so that the host's queue can try again
   * (InfluxDB overwrites a repeated event; Parquet wrote nothing of it).
   */
  writeAuditEventToDestinations(envelope: AuditEnvelope, extras?: HandlerExtras): Promise<void>;
  /** Stops the destinations' background work and closes their clients. */
  close(): Promise<void>;
}

/** The destinations `config` turns on, built from their blocks. */
export async function createAuditDestinationsFromConfig(
  config: AuditEventsConfig,
  deps: DestinationDeps,
): Promise<AuditDestinations> {
  const list: AuditDestination[] = [];
  let influxdbWriter: InfluxPointWriter | undefined;
  for (const id of configuredDestinationIds(config.destination)) {
    const logger = prefixedLogger(deps.logger, id);
    switch (id) {
      case 'parquet':
        list.push(
          await createParquetDestination(config.destination.parquet, {
            logger,
            baseDir: deps.baseDir,
            logId: deps.logId,
          }),
        );
        break;
      case 'influxdb': {
        // The config validation guarantees the block when the type lists influxdb.
        const influxdb = createInfluxdbDestination(config.destination.influxdb!, { logger });
        influxdbWriter = influxdb.writer;
        list.push(influxdb);
        break;
      }
    }
  }
  const targets = list.map((destination) => ({
    destination,
    deadLetters: deadLetterFileFor(config, destination.id, deps.baseDir),
  }));
  const withEnvelope = keepsEnvelope(config);
  return {
    list,
    influxdbWriter,
    writeAuditEventToDestinations: (envelope, extras = {}) =>
      writeToEveryDestination(targets, toAuditRecord(envelope, extras, { withEnvelope }), envelope),
    close: async () => {
      await Promise.all(list.map((destination) => destination.close()));
    },
  };
}

async function writeToEveryDestination(
  targets: ReadonlyArray<{ destination: AuditDestination; deadLetters: DeadLetterFile }>,
  record: AuditRecord,
  envelope: AuditEnvelope,
): Promise<void> {
  const item = { value: record };
  const failures: unknown[] = [];
  await Promise.all(
    targets.map(async ({ destination, deadLetters }) => {
      try {
        const result = await destination.sink.write([item]);
        const refused = result.rejected.map((rejection) => deadLetterRecordOf(rejection, envelope));
        if (result.failure instanceof RefusedBatchError) {
          const { reason, details } = result.failure;
          refused.push(deadLetterRecordOf({ item, reason, ...details }, envelope));
        } else if (result.kept.length > 0) {
          throw result.failure;
        }
        await deadLetters.append(refused);
      } catch (error) {
        failures.push(new Error(`${destination.id}: ${errorMessage(error)}`, { cause: error }));
      }
    }),
  );
  if (failures.length > 0) {
    throw new AggregateError(failures, `event ${envelope.eventId} not written to every destination`);
  }
}
