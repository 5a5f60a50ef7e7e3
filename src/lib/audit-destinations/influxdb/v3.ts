/**
 * InfluxDB 3 writer, with `@influxdata/influxdb3-client` 2.1.0 (read in the package's source
 * map, impl/WriteApiImpl.ts and InfluxDBClient.ts): `client.write(lines, database)` is one
 * request, with no batching, buffer or retry of its own, to `/api/v2/write?bucket=<db>
 * &precision=ns` (all or nothing). Only `noSync: true` would switch it to `/api/v3/write_lp`
 * with `no_sync=true`, which acknowledges before the server's WAL is durable: never for audit
 * data (docs/influxdb.md). The connection option `writeTimeout` is the socket timeout of a write
 * (`timeout` is its deprecated alias); a timeout rejects with RequestTimedOutError.
 */
import { InfluxDBClient, setLogger } from '@influxdata/influxdb3-client';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { fromInfluxdataClientError } from './write-errors.js';
import type { InfluxConnection } from './connection.js';
import type { InfluxPointWriter } from './point-writer.js';

/** `timeoutMs` is v3Config.writeTimeout. */
type V3WriterOptions = Pick<InfluxConnection, 'url' | 'timeoutMs'> & {
  token: string;
  database: string;
  logger: Logger;
};

/**
 * The client logs every failed write itself, to the console by default, through a logger
 * global to the package. The writer throws the same failure to the buffer, which logs it
 * with context, so the client's own lines go to our logger at debug.
 */
function routeClientLogs(logger: Logger): void {
  setLogger({
    error: (message, error) =>
      logger.debug(`influxdb3-client: ${message}${error ? ` (${errorMessage(error)})` : ''}`),
    warn: (message, error) =>
      logger.warn(`influxdb3-client: ${message}${error ? ` (${errorMessage(error)})` : ''}`),
  });
}

export function createV3PointWriter(options: V3WriterOptions): InfluxPointWriter {
  routeClientLogs(options.logger);
  const client = new InfluxDBClient({
    host: options.url,
    token: options.token,
    database: options.database,
    writeTimeout: options.timeoutMs,
  });
  return {
    async write(lines) {
      if (lines.length === 0) return;
      try {
        await client.write(lines, options.database, undefined, { precision: 'ns', noSync: false });
      } catch (error) {
        throw fromInfluxdataClientError(error, 3);
      }
    },
    close: () => client.close(),
  };
}
