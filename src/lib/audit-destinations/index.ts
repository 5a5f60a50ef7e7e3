/**
 * The destination registry: which destinations the config asks for, built from their config
 * blocks. A new destination is one sink plus one entry here; the HTTP layer never changes.
 */
import type { AuditEventsConfig, DestinationType } from '../config/schema.js';
import { parseDestinationTypes } from '../config/validate.js';
import type { Logger } from '../logger.js';
import path from 'node:path';
import type { AuditDestination } from './destination.js';
import { createInfluxdbDestination } from './influxdb/buffer.js';
import { createParquetDestination } from './parquet/writer.js';

export { writeAuditEventToDestinations } from './runner.js';

export interface DestinationDeps {
  logger: Logger;
  /** Where relative directories in the config are resolved from. */
  baseDir: string;
  /** journal.directory: dead-letter files go to its `dead-letter` folder. */
  journalDirectory: string;
  /** The event log the destinations read (its id is recorded where they keep sequence numbers). */
  logId: string;
}

/** The destinations the config turns on; each destination's id is its type name. */
export function configuredDestinationIds(
  destinationConfig: AuditEventsConfig['destination'],
): DestinationType[] {
  return destinationConfig.enable ? parseDestinationTypes(destinationConfig.type).types : [];
}

export async function createAuditDestinationsFromConfig(
  destinationConfig: AuditEventsConfig['destination'],
  deps: DestinationDeps,
): Promise<AuditDestination[]> {
  const destinations: AuditDestination[] = [];
  for (const type of configuredDestinationIds(destinationConfig)) {
    switch (type) {
      case 'parquet':
        destinations.push(
          await createParquetDestination(destinationConfig.parquet, {
            logger: deps.logger.child({ destination: 'parquet' }),
            baseDir: deps.baseDir,
            logId: deps.logId,
          }),
        );
        break;
      case 'influxdb':
        // The config validation guarantees the block when the type lists influxdb.
        destinations.push(
          createInfluxdbDestination(destinationConfig.influxdb!, {
            logger: deps.logger.child({ destination: 'influxdb' }),
            deadLetterDirectory: path.resolve(deps.baseDir, deps.journalDirectory, 'dead-letter'),
          }),
        );
        break;
    }
  }
  return destinations;
}
