/**
 * What the InfluxDB destination writes through: one writer per configured InfluxDB version
 * (v1.ts, v2.ts, v3.ts), each a thin layer over that version's client. A writer sends one
 * batch in one request and classifies the outcome; batching, retries, splitting and
 * dead-lettering belong to the buffer (buffer.ts).
 */
import type { InfluxdbConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { InfluxPointModel } from './point-model.js';
import { createV1PointWriter } from './v1.js';
import { createV2PointWriter } from './v2.js';
import { createV3PointWriter } from './v3.js';

export { InfluxWriteError, type InfluxWriteErrorDetails, type InfluxWriteErrorKind } from './write-errors.js';

export interface InfluxPointWriter {
  /** Writes the whole batch or throws InfluxWriteError. One HTTP request; no retries of its own. */
  write(points: InfluxPointModel[]): Promise<void>;
  close(): Promise<void>;
}

/** Timeout of one write on v1 and v2, whose configs have none (v3 has writeTimeout). */
export const WRITE_TIMEOUT_MS = 10_000;

/** An IPv6 address needs brackets in a URL. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function influxBaseUrl(config: Pick<InfluxdbConfig, 'protocol' | 'host' | 'port'>): string {
  return `${config.protocol}://${urlHost(config.host)}:${config.port}`;
}

function versionBlock<T>(block: T | undefined, version: number): T {
  // The config schema requires the block of the configured version; this is a guard.
  if (block === undefined)
    throw new Error(`destination.influxdb.v${version}Config is required for version ${version}`);
  return block;
}

export function createInfluxPointWriter(config: InfluxdbConfig, logger: Logger): InfluxPointWriter {
  const lineProtocol = { maxStringFieldBytes: config.maxStringFieldBytes };
  switch (config.version) {
    case 1: {
      const v1 = versionBlock(config.v1Config, 1);
      return createV1PointWriter({
        host: urlHost(config.host),
        port: config.port,
        protocol: config.protocol,
        database: v1.dbName,
        retentionPolicy: v1.retentionPolicy.name,
        credentials: v1.auth.enable ? { username: v1.auth.username, password: v1.auth.password } : undefined,
        timeoutMs: WRITE_TIMEOUT_MS,
        lineProtocol,
      });
    }
    case 2: {
      const v2 = versionBlock(config.v2Config, 2);
      return createV2PointWriter({
        url: influxBaseUrl(config),
        token: v2.token,
        org: v2.org,
        bucket: v2.bucket,
        timeoutMs: WRITE_TIMEOUT_MS,
        lineProtocol,
      });
    }
    case 3: {
      const v3 = versionBlock(config.v3Config, 3);
      return createV3PointWriter({
        url: influxBaseUrl(config),
        token: v3.token,
        database: v3.database,
        writeTimeoutMs: v3.writeTimeout,
        lineProtocol,
        logger,
      });
    }
  }
}
