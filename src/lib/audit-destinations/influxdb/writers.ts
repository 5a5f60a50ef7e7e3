/**
 * The writer for the configured InfluxDB version, each a thin layer over that version's
 * client (v1.ts, v2.ts, v3.ts). A writer sends one batch of lines in one request and
 * classifies the outcome; converting, splitting and dead-lettering belong elsewhere.
 */
import type { InfluxdbConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { influxConnection, versionBlock } from './connection.js';
import type { InfluxPointWriter } from './point-writer.js';
import { createV1PointWriter } from './v1.js';
import { createV2PointWriter } from './v2.js';
import { createV3PointWriter } from './v3.js';

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
