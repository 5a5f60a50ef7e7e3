/**
 * InfluxDB 2.x writer, with `@influxdata/influxdb-client` 1.35.
 *
 * It posts our own lines through the client's transport (`InfluxDB.transport.request`), not
 * through its WriteApi, which does not give exact control (impl/WriteApiImpl.ts in the
 * package's source map): WriteApi splits a batch into several requests by batchSize and
 * maxBatchBytes, keeps failed lines in an in-memory retry buffer that close() discards,
 * reads Retry-After as milliseconds, and logs every failure to the console itself. The
 * transport sends exactly one request, with the client's auth header, TLS, gzip and timeout,
 * and rejects with its HttpError (raw body and headers) or a network/timeout error.
 */
import { InfluxDB } from '@influxdata/influxdb-client';
import { fromInfluxdataClientError } from './write-errors.js';
import type { InfluxConnection } from './connection.js';
import type { InfluxPointWriter } from './point-writer.js';

type V2WriterOptions = Pick<InfluxConnection, 'url' | 'timeoutMs'> & {
  token: string;
  org: string;
  bucket: string;
};

/** Bodies larger than this are gzipped, as the client's WriteApi does by default. */
const GZIP_THRESHOLD_BYTES = 1000;

function v2WritePath(org: string, bucket: string): string {
  return `/api/v2/write?org=${encodeURIComponent(org)}&bucket=${encodeURIComponent(bucket)}&precision=ns`;
}

export function createV2PointWriter(options: V2WriterOptions): InfluxPointWriter {
  const influx = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs });
  const path = v2WritePath(options.org, options.bucket);
  return {
    async write(lines) {
      if (lines.length === 0) return;
      // Aborting after a failure releases a socket the transport leaves open on a timeout.
      const abort = new AbortController();
      try {
        await influx.transport.request(path, lines.join('\n'), {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          gzipThreshold: GZIP_THRESHOLD_BYTES,
          signal: abort.signal,
        });
      } catch (error) {
        abort.abort();
        throw fromInfluxdataClientError(error, 2);
      }
    },
    // The transport holds no connection of its own to release.
    async close() {},
  };
}
