/**
 * Writes envelopes the way production does: the whole module in-process (createAuditModule)
 * with both destinations, InfluxDB v1 on a real influxd (with the queue metrics) and Parquet files, each envelope
 * posted over HTTP and answered 202, then the module stopped, which writes everything it holds.
 * What the destinations hold afterwards is what a user's dashboards and queries read.
 */
import path from 'node:path';
import pLimit from 'p-limit';
import { createAuditModule } from '../../src/lib/audit-module.js';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import type { StaticTag } from '../../src/lib/config/schema.js';
import { validConfig } from './config.js';
import { postAuditEvent } from './audit-api-client.js';
import { recordingLogger } from './recording-logger.js';

export interface ModuleDestinations {
  /** The influxd to write to (InfluxDB v1 API) and its database, created by the module. */
  influx: { port: number; dbName: string };
  /**
   * Where the module runs: the journal goes to `journal/` and the Parquet files to
   * `audit-events/parquet/` (the default exportDirectory) under it.
   */
  baseDir: string;
  staticTags?: StaticTag[];
}

/** Short, so that a run of a second or two writes several queue-metrics points. */
const QUEUE_METRICS_EVERY_MS = 100;

/** Posts at most this many events at once, as several browsers would. */
const CONCURRENT_POSTS = 8;

export async function writeThroughModule(
  envelopes: readonly AuditEnvelope[],
  destinations: ModuleDestinations,
): Promise<void> {
  const { influx, baseDir, staticTags = [] } = destinations;
  const config = validConfig({
    port: 0,
    rateLimit: { enable: false },
    // Butler SOS's queue metrics as the module writes them, next to the events.
    queue: {
      queueMetrics: { influxdb: { enable: true, writeFrequency: QUEUE_METRICS_EVERY_MS, tags: staticTags } },
    },
    journal: { directory: path.join(baseDir, 'journal') },
    destination: {
      type: 'influxdb, parquet',
      influxdb: {
        host: '127.0.0.1',
        port: influx.port,
        version: 1,
        writeFrequency: 200,
        staticTags,
        v1Config: { dbName: influx.dbName },
      },
      parquet: { writeFrequency: 200, staticTags },
    },
  });
  const { logger, lines } = recordingLogger('warn');
  const module = createAuditModule(config, { logger, baseDir, version: '0.0.0-test' });
  const address = await module.start();
  if (!address) throw new Error('the audit module did not start');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  try {
    const limit = pLimit(CONCURRENT_POSTS);
    await Promise.all(
      envelopes.map((envelope) =>
        limit(async () => {
          const response = await postAuditEvent(baseUrl, envelope);
          const body = await response.text();
          if (response.status !== 202)
            throw new Error(`${envelope.type} ${envelope.eventId} answered ${response.status}: ${body}`);
        }),
      ),
    );
  } finally {
    await module.stop();
  }
  // The module says at stop whether every destination wrote every accepted event.
  const problems = lines.filter((line) => line.startsWith('error:'));
  if (problems.length > 0) throw new Error(`the audit module reported:\n${problems.join('\n')}`);
}
