/**
 * The destination registry: which destinations the config asks for, built from their config
 * blocks. A new destination is one sink plus one entry here; the HTTP layer, the log and the
 * delivery loop do not change.
 *
 * It also holds writeAuditEventToDestinations(), the seam the design names for a host that
 * runs its own queue instead of the journal: one event written to every destination now.
 */
import path from 'node:path';
import { toAuditRecord } from '../audit-events/record.js';
import type { AuditEnvelope, HandlerExtras } from '../audit-events/types.js';
import type { AuditEventsConfig, DestinationType } from '../config/schema.js';
import { parseDestinationTypes } from '../config/validate.js';
import { RefusedBatchError, errorMessage } from '../errors.js';
import { prefixedLogger, type Logger } from '../logger.js';
import { DeadLetterFile, type DeadLetterRecord } from './dead-letter.js';
import type { AuditDestination } from './destination.js';
import { createInfluxdbDestination } from './influxdb/buffer.js';
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

/** `<journal.directory>/dead-letter/<destination>-YYYYMMDD.ndjson`, resolved against `baseDir`. */
export function deadLetterFileFor(
  config: AuditEventsConfig,
  destinationId: string,
  baseDir: string,
): DeadLetterFile {
  return new DeadLetterFile(path.resolve(baseDir, config.journal.directory, 'dead-letter'), destinationId);
}

export async function createAuditDestinationsFromConfig(
  destinationConfig: AuditEventsConfig['destination'],
  deps: DestinationDeps,
): Promise<AuditDestination[]> {
  const destinations: AuditDestination[] = [];
  for (const id of configuredDestinationIds(destinationConfig)) {
    const logger = prefixedLogger(deps.logger, id);
    switch (id) {
      case 'parquet':
        destinations.push(
          await createParquetDestination(destinationConfig.parquet, {
            logger,
            baseDir: deps.baseDir,
            logId: deps.logId,
          }),
        );
        break;
      case 'influxdb':
        // The config validation guarantees the block when the type lists influxdb.
        destinations.push(createInfluxdbDestination(destinationConfig.influxdb!, { logger }));
        break;
    }
  }
  return destinations;
}

/**
 * writeAuditEventToDestinations(), as the seeds name it: writes one event, with the extras its
 * handler computed, to every destination now. A destination that refuses the event for its
 * content gets it in its dead-letter file; one that cannot write it now (down, misconfigured)
 * does not stop the others, and the promise then rejects with every such failure, so that the
 * host's queue can try again (InfluxDB overwrites a repeated event; Parquet wrote nothing).
 */
export async function writeAuditEventToDestinations(
  targets: ReadonlyArray<{ destination: AuditDestination; deadLetters: DeadLetterFile }>,
  envelope: AuditEnvelope,
  extras: HandlerExtras = {},
): Promise<void> {
  const item = { value: toAuditRecord(envelope, extras) };
  const failures: unknown[] = [];
  await Promise.all(
    targets.map(async ({ destination, deadLetters }) => {
      try {
        const result = await destination.sink.write([item]);
        const refused: DeadLetterRecord[] = result.rejected.map(({ reason, status, payload }) => ({
          eventId: envelope.eventId,
          reason,
          status,
          payload,
          envelope,
        }));
        if (result.failure instanceof RefusedBatchError) {
          refused.push({
            eventId: envelope.eventId,
            reason: result.failure.reason,
            ...result.failure.details,
            envelope,
          });
        } else if (result.kept.length > 0) {
          throw result.failure;
        }
        await deadLetters.append(refused);
      } catch (error) {
        failures.push(new Error(`${destination.id}: ${errorMessage(error)}`, { cause: error }));
      }
    }),
  );
  if (failures.length > 0)
    throw new AggregateError(failures, `event ${envelope.eventId} not written to every destination`);
}
