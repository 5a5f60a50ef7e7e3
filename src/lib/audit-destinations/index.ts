/**
 * The destination registry: which destinations the config asks for, built from their config
 * blocks. A new destination is one sink plus one entry here; the HTTP layer never changes.
 */
import type { AuditEventsConfig } from '../config/schema.js';
import { parseDestinationTypes } from '../config/validate.js';
import type { Logger } from '../logger.js';
import type { AuditDestination } from './destination.js';
import { createParquetDestination } from './parquet/writer.js';

export { writeAuditEventToDestinations } from './runner.js';

export interface DestinationDeps {
  logger: Logger;
  /** Where relative directories in the config are resolved from. */
  baseDir: string;
}

/** Raised when the config names a destination this build cannot run. */
export class DestinationUnavailableError extends Error {
  override readonly name = 'DestinationUnavailableError';
}

export async function createAuditDestinationsFromConfig(
  destinationConfig: AuditEventsConfig['destination'],
  deps: DestinationDeps,
): Promise<AuditDestination[]> {
  if (!destinationConfig.enable) return [];
  const destinations: AuditDestination[] = [];
  for (const type of parseDestinationTypes(destinationConfig.type).types) {
    switch (type) {
      case 'parquet':
        destinations.push(
          await createParquetDestination(destinationConfig.parquet, {
            logger: deps.logger.child({ destination: 'parquet' }),
            baseDir: deps.baseDir,
          }),
        );
        break;
      case 'influxdb':
        throw new DestinationUnavailableError(
          "Butler-SOS.auditEvents.destination.type: 'influxdb' is not available in this build yet; use 'parquet'",
        );
    }
  }
  return destinations;
}
