/**
 * InfluxDB 1.x writer, with the `influx` package (node-influx 5.12): one `writePoints` call
 * per batch, `POST /write?db&rp&precision=n`, HTTP Basic auth when configured.
 *
 * What the package does that we must not let it do (read in node_modules/influx/lib/src):
 * - escaping (grammar/escape.js): every Escaper first replaces the first `\'` of a string
 *   with `\\'`, so a tag or string field holding `\'` would be stored with an extra
 *   backslash; numbers are written with String(), which gives exponent forms. So every tag
 *   value and field value is handed over already in line-protocol form, wrapped in `Raw`,
 *   which its escaper passes through as it is. The line is then byte for byte the one
 *   toLineProtocol() writes for v2 and v3.
 * - the measurement is written raw, not escaped: we escape it (the config schema also
 *   restricts its characters).
 * - its pool retries a 5xx or network error twice and takes the host out of rotation for a
 *   growing delay (pool.js `_handleRequestError`, `_disableHost`): retries are off, and the
 *   host is never taken out, since the hybrid buffer owns retries and back-off.
 */
import type { IncomingMessage } from 'node:http';
import { InfluxDB, Raw, type IPoint, type IPoolOptions } from 'influx';
import type { InfluxPointModel } from './point-model.js';
import {
  escapeKeyOrTagValue,
  escapeMeasurement,
  formatFieldValue,
  prepareForLineProtocol,
  sortedEntries,
  type LineProtocolOptions,
} from './line-protocol.js';
import {
  httpWriteError,
  serverMessageFromBody,
  transportWriteError,
  type InfluxWriteError,
} from './write-errors.js';
import type { InfluxPointWriter } from './writers.js';

export interface V1WriterOptions {
  /** A host name or address; an IPv6 address in brackets. */
  host: string;
  port: number;
  protocol: 'http' | 'https';
  database: string;
  retentionPolicy: string;
  /** Only when v1Config.auth.enable: the package sends Basic auth whenever a username is set. */
  credentials?: { username: string; password: string };
  timeoutMs: number;
  lineProtocol: LineProtocolOptions;
}

type BackoffStrategy = NonNullable<IPoolOptions['backoff']>;

/** A zero delay keeps the one host in the pool after a failure (pool.js disables it only when delay > 0). */
const KEEP_HOST_IN_POOL: BackoffStrategy = {
  getDelay: () => 0,
  next: () => KEEP_HOST_IN_POOL,
  reset: () => KEEP_HOST_IN_POOL,
};

/**
 * Text already in line-protocol form. `Raw` passes the package's tag escaper untouched;
 * toString() lets it through the field formatter, which writes non-strings with String().
 */
class LineProtocolText extends Raw {
  override toString(): string {
    return this.getValue();
  }
}

/** The `influx` point for one of ours: everything prepared and escaped by line-protocol.ts. */
export function toInfluxV1Point(point: InfluxPointModel, options: LineProtocolOptions): IPoint {
  const prepared = prepareForLineProtocol(point, options);
  const tags = sortedEntries(prepared.tags).map(([key, value]) => [
    key,
    new LineProtocolText(escapeKeyOrTagValue(value)),
  ]);
  const fields = sortedEntries(prepared.fields).map(([key, value]) => [
    key,
    new LineProtocolText(formatFieldValue(value)),
  ]);
  return {
    measurement: escapeMeasurement(prepared.measurement),
    // Typed as strings by the package, but its escaper takes Raw values (grammar/escape.js).
    tags: Object.fromEntries(tags) as Record<string, string>,
    fields: Object.fromEntries(fields),
    timestamp: prepared.timestampNs.toString(),
  };
}

/**
 * The package's RequestError (status 300..499) carries the response as `res` and the body
 * only inside its message: `A <status> <text> error occurred: <body>`. Anything else it
 * throws (network errors, timeouts, and ServiceNotAvailableError for every 5xx, which
 * drops the status and the body) got no usable answer.
 */
function fromInfluxPackageError(error: unknown): InfluxWriteError {
  const response = (error as { res?: IncomingMessage } | null)?.res;
  if (typeof response?.statusCode !== 'number') return transportWriteError(error);
  const body = /error occurred: ([\s\S]*)$/.exec((error as Error).message)?.[1];
  const header = response.headers['x-influxdb-error'];
  return httpWriteError({
    status: response.statusCode,
    serverMessage: serverMessageFromBody(body) ?? (typeof header === 'string' ? header : undefined),
    retryAfter: response.headers['retry-after'],
    cause: error,
  });
}

export function createV1PointWriter(options: V1WriterOptions): InfluxPointWriter {
  const influx = new InfluxDB({
    host: options.host,
    port: options.port,
    protocol: options.protocol,
    database: options.database,
    ...options.credentials,
    pool: { maxRetries: 0, requestTimeout: options.timeoutMs, backoff: KEEP_HOST_IN_POOL },
  });
  const writeOptions = {
    database: options.database,
    retentionPolicy: options.retentionPolicy,
    precision: 'n',
  } as const;
  return {
    async write(points) {
      if (points.length === 0) return;
      const v1Points = points.map((point) => toInfluxV1Point(point, options.lineProtocol));
      try {
        await influx.writePoints(v1Points, writeOptions);
      } catch (error) {
        throw fromInfluxPackageError(error);
      }
    },
    // The package holds no connection of its own to release.
    async close() {},
  };
}
