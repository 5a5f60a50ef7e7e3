/**
 * What Butler SOS (or any host) imports: the module as a whole, its config validation, and the
 * seam the design names for a host that runs its own HTTP server and queue. docs/embedding.md
 * shows each in use.
 *
 * Every function takes the config as the host has it: a whole config (`{ "Butler-SOS": {...} }`),
 * the `Butler-SOS` tree, or its `auditEvents` section, in this module's layout or in Butler SOS
 * 15's. The logger is any object with `error`, `warn`, `info`, `verbose` and `debug` methods
 * taking a message string (a winston logger as it is).
 */
import {
  createAuditModule as createModule,
  type AuditModule,
  type AuditModuleDeps,
} from './lib/audit-module.js';
import {
  createAuditDestinationsFromConfig as createDestinations,
  type AuditDestinations,
} from './lib/audit-destinations/index.js';
import { computeHandlerExtras, createAuditEventHandlers } from './lib/audit-events/handlers.js';
import { openScreenshotSaver } from './lib/audit-screenshots/index.js';
import type { AuditEnvelope, HandlerExtras } from './lib/audit-events/types.js';
import type { AuditEventsConfig } from './lib/config/schema.js';
import { validateAuditEventsConfig, type ConfigValidation } from './lib/config/validate.js';
import { missingLoggerMethods, type Logger } from './lib/logger.js';

export type { AuditModule, AuditEventsConfig, ConfigValidation, Logger, AuditEnvelope, HandlerExtras };
/** Checks a config without starting anything (see lib/config/validate.ts). */
export { validateAuditEventsConfig };
export type { AuditRecord } from './lib/audit-events/types.js';

/** The config the host gave does not validate; `problems` has one line each (key path, what, what is allowed). */
export class InvalidAuditEventsConfigError extends Error {
  override readonly name = 'InvalidAuditEventsConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid audit events configuration:\n  ${problems.join('\n  ')}`);
  }
}

export interface HostDeps {
  logger: Logger;
  /** Reported by GET /api/v1/test-connection as `butlerSosVersion`. */
  version: string;
  /** Where relative paths in the config are resolved from (default: the working directory). */
  baseDir?: string;
}

function validated(tree: unknown, logger: Logger): { config: AuditEventsConfig; warnings: string[] } {
  const missing = missingLoggerMethods(logger);
  if (missing.length > 0) {
    throw new TypeError(
      `the logger needs these methods, each taking a message string: ${missing.join(', ')}`,
    );
  }
  const result = validateAuditEventsConfig(tree);
  if (!result.ok) throw new InvalidAuditEventsConfigError(result.problems);
  return result;
}

/**
 * The whole module: the audit API, the journal and one delivery loop per destination.
 * `start()` resolves with the address it listens on (null when auditEvents.enable is false);
 * `stop()` stops accepting (503), writes what it holds within shutdownTimeoutMs and closes.
 * Throws InvalidAuditEventsConfigError for a config that does not validate.
 */
export function createAuditModule(config: unknown, deps: HostDeps): AuditModule {
  const { config: valid, warnings } = validated(config, deps.logger);
  const moduleDeps: AuditModuleDeps = { ...deps, configWarnings: warnings };
  return createModule(valid, moduleDeps);
}

/** The seam for a host with its own server and queue: the destinations and the handler stage. */
export interface AuditDestinationsForHost {
  /**
   * processAuditEventEnvelope(), as Butler SOS names it: runs the event's type handler and writes
   * the event with its extras to every destination; resolves with the extras.
   */
  processAuditEventEnvelope(envelope: AuditEnvelope): Promise<HandlerExtras>;
  /** writeAuditEventToDestinations(), as Butler SOS names it: see AuditDestinations. */
  writeAuditEventToDestinations(envelope: AuditEnvelope, extras?: HandlerExtras): Promise<void>;
  close(): Promise<void>;
}

/**
 * The configured destinations, for a host that validates and queues events itself. Without the
 * journal it is the host's queue that must keep an event until its write resolved: a rejected
 * write means "not written, try again".
 */
export async function createAuditDestinationsFromConfig(
  config: unknown,
  deps: Omit<HostDeps, 'version'>,
): Promise<AuditDestinationsForHost> {
  const { config: valid, warnings } = validated(config, deps.logger);
  for (const warning of warnings) deps.logger.warn(warning);
  const baseDir = deps.baseDir ?? process.cwd();
  // Before the destinations: a certificate it cannot read stops here with nothing left open.
  const screenshots = await openScreenshotSaver(valid.destination.screenshots, {
    logger: deps.logger,
    baseDir,
  });
  const destinations: AuditDestinations = await createDestinations(valid, { logger: deps.logger, baseDir });
  const handlers = createAuditEventHandlers({ screenshots });
  return {
    async processAuditEventEnvelope(envelope) {
      const extras = await computeHandlerExtras(handlers, envelope, { logger: deps.logger });
      await destinations.writeAuditEventToDestinations(envelope, extras);
      return extras;
    },
    writeAuditEventToDestinations: (envelope, extras) =>
      destinations.writeAuditEventToDestinations(envelope, extras),
    async close() {
      await destinations.close();
      await screenshots?.close(); // ends the Qlik sessions it keeps
    },
  };
}
