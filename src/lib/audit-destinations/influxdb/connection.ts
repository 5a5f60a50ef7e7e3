/**
 * How to reach the configured InfluxDB server: the same for the writers, the startup hooks and
 * the logs, derived from `destination.influxdb` in one place.
 */
import type { InfluxdbConfig } from '../../config/schema.js';

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

/** Timeout of one request on v1 and v2, whose configs have none (v3 has writeTimeout). */
const REQUEST_TIMEOUT_MS = 10_000;

/** An IPv6 address needs brackets in a URL. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The block of the configured version (the config schema requires it; this is a guard). */
export function versionBlock<T>(block: T | undefined, version: number): T {
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
