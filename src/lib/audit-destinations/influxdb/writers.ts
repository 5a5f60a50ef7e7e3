/**
 * What the InfluxDB destination writes through: one writer per configured InfluxDB version
 * (v1.ts, v2.ts, v3.ts), each a thin layer over that version's client. A writer sends one
 * batch of lines in one request and classifies the outcome; converting points to lines,
 * batching, retries, splitting and dead-lettering belong to the sink (buffer.ts).
 */
import type { InfluxdbConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { createV1PointWriter } from './v1.js';
import { createV2PointWriter } from './v2.js';
import { createV3PointWriter } from './v3.js';

export { InfluxWriteError } from './write-errors.js';

export interface InfluxPointWriter {
  /**
   * Writes the whole batch or throws InfluxWriteError. One HTTP request; no retries of its own.
   * The lines are toLineProtocol()'s: the sink converts each point once, and a retry or a
   * split sends the same lines again.
   */
  write(lines: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Timeout of one request on v1 and v2, whose configs have none (v3 has writeTimeout). */
const REQUEST_TIMEOUT_MS = 10_000;

/** How to reach the configured server: the same for the writers, the startup hooks and the logs. */
export interface InfluxConnection {
  /** `http(s)://host:port`. */
  url: string;
  /** As a URL needs it: an IPv6 address in brackets. */
  host: string;
  port: number;
  protocol: 'http' | 'https';
  /** v1 Basic auth, only when v1Config.auth.enable (v2 and v3 send their block's token). */
  credentials?: { username: string; password: string };
  /** Of one request. */
  timeoutMs: number;
}

/** An IPv6 address needs brackets in a URL. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function versionBlock<T>(block: T | undefined, version: number): T {
  // The config schema requires the block of the configured version; this is a guard.
  if (block === undefined)
    throw new Error(`destination.influxdb.v${version}Config is required for version ${version}`);
  return block;
}

export function influxConnection(config: InfluxdbConfig): InfluxConnection {
  const host = urlHost(config.host);
  const auth = config.version === 1 ? versionBlock(config.v1Config, 1).auth : undefined;
  return {
    url: `${config.protocol}://${host}:${config.port}`,
    host,
    port: config.port,
    protocol: config.protocol,
    credentials: auth?.enable ? { username: auth.username, password: auth.password } : undefined,
    timeoutMs: config.version === 3 ? versionBlock(config.v3Config, 3).writeTimeout : REQUEST_TIMEOUT_MS,
  };
}

export function createInfluxPointWriter(config: InfluxdbConfig, logger: Logger): InfluxPointWriter {
  const connection = influxConnection(config);
  switch (config.version) {
    case 1: {
      const v1 = versionBlock(config.v1Config, 1);
      return createV1PointWriter({
        ...connection,
        database: v1.dbName,
        retentionPolicy: v1.retentionPolicy.name,
      });
    }
    case 2: {
      const v2 = versionBlock(config.v2Config, 2);
      return createV2PointWriter({ ...connection, token: v2.token, org: v2.org, bucket: v2.bucket });
    }
    case 3: {
      const v3 = versionBlock(config.v3Config, 3);
      return createV3PointWriter({ ...connection, token: v3.token, database: v3.database, logger });
    }
  }
}
