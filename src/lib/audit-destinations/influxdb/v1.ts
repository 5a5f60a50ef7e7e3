/**
 * InfluxDB 1.x writer, with the `influx` package (node-influx 5.12): one `writePoints` call
 * per batch, `POST /write?db&rp&precision=n`, HTTP Basic auth when configured.
 *
 * What the package does that we must not let it do (read in node_modules/influx/lib/src):
 * - escaping (grammar/escape.js): every Escaper first replaces the first `\'` of a string
 *   with `\\'`, so a tag or string field holding `\'` would be stored with an extra
 *   backslash; numbers are written with String(), which gives exponent forms. So it is given
 *   no tags or fields at all: writePoints writes a point's measurement as it is, unescaped,
 *   and adds nothing after it for a point without tags, fields and timestamp (index.js
 *   `writePoints`). Each of our lines, passed as a measurement, goes on the wire byte for byte
 *   as toLineProtocol() wrote it, the same as for v2 and v3.
 * - its pool retries a 5xx or network error twice and takes the host out of rotation for a
 *   growing delay (pool.js `_handleRequestError`, `_disableHost`): retries are off, and the
 *   host is never taken out, since the hybrid buffer owns retries and back-off.
 */
import type { IncomingMessage } from 'node:http';
import { InfluxDB, type IPoolOptions } from 'influx';
import {
  httpWriteError,
  serverMessageFromBody,
  transportWriteError,
  type InfluxWriteError,
} from './write-errors.js';
import type { InfluxConnection, InfluxPointWriter } from './writers.js';

type V1WriterOptions = Pick<InfluxConnection, 'host' | 'port' | 'protocol' | 'credentials' | 'timeoutMs'> & {
  database: string;
  retentionPolicy: string;
};

type BackoffStrategy = NonNullable<IPoolOptions['backoff']>;

/** A zero delay keeps the one host in the pool after a failure (pool.js disables it only when delay > 0). */
const KEEP_HOST_IN_POOL: BackoffStrategy = {
  getDelay: () => 0,
  next: () => KEEP_HOST_IN_POOL,
  reset: () => KEEP_HOST_IN_POOL,
};

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
    version: 1,
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
    // The package sends Basic auth whenever a username is set.
    ...options.credentials,
    pool: { maxRetries: 0, requestTimeout: options.timeoutMs, backoff: KEEP_HOST_IN_POOL },
  });
  const writeOptions = {
    database: options.database,
    retentionPolicy: options.retentionPolicy,
    precision: 'n',
  } as const;
  return {
    async write(lines) {
      if (lines.length === 0) return;
      try {
        // A whole line as the measurement: written as it is (see the top of this file).
        await influx.writePoints(
          lines.map((line) => ({ measurement: line })),
          writeOptions,
        );
      } catch (error) {
        throw fromInfluxPackageError(error);
      }
    },
    // The package holds no connection of its own to release.
    async close() {},
  };
}
