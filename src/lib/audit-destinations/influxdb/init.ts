/**
 * Startup hooks (docs/influxdb.md): make sure the audit target exists before events arrive.
 * v1: database and retention policy; v2: org lookup and bucket with its retention; v3: only
 * check that the database exists (it is never created, as the seeds say). A server that is
 * unreachable at start is retried in the background; events wait in the log meanwhile.
 */
import { InfluxDB as InfluxV2 } from '@influxdata/influxdb-client';
import { InfluxDB as InfluxV1 } from 'influx';
import { Duration, type DurationLikeObject } from 'luxon';
import type { InfluxdbConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { httpStatusOf, refusesCredentials } from './write-errors.js';
import { influxConnection, type InfluxConnection } from './connection.js';

/** The target is missing or misconfigured in a way retrying alone will not fix. */
class InfluxSetupProblem extends Error {
  override readonly name = 'InfluxSetupProblem';
}

const RETRY_INITIAL_MS = 2000;
const RETRY_MAX_MS = 60000;

/** InfluxDB's duration units, as luxon names them (ns and us in milliseconds). */
const DURATION_UNITS: Record<string, [keyof DurationLikeObject, number]> = {
  ns: ['milliseconds', 1e-6],
  us: ['milliseconds', 1e-3],
  ms: ['milliseconds', 1],
  s: ['seconds', 1],
  m: ['minutes', 1],
  h: ['hours', 1],
  d: ['days', 1],
  w: ['weeks', 1],
};

/** Whole seconds in an InfluxDB duration literal such as `30d` or `1w2d` (the schema checked its form). */
export function durationSeconds(duration: string): number {
  let total = Duration.fromMillis(0);
  for (const [, amount, unit] of duration.matchAll(/(\d+)(ns|us|ms|s|m|h|d|w)/g)) {
    const [luxonUnit, factor] = DURATION_UNITS[unit];
    total = total.plus({ [luxonUnit]: Number(amount) * factor });
  }
  return Math.floor(total.as('seconds'));
}

async function ensureV1Target(
  config: InfluxdbConfig,
  connection: InfluxConnection,
  logger: Logger,
): Promise<void> {
  const v1 = config.v1Config!;
  const client = new InfluxV1({
    host: connection.host,
    port: connection.port,
    protocol: connection.protocol,
    ...connection.credentials,
    pool: { requestTimeout: connection.timeoutMs },
  });
  if (!(await client.getDatabaseNames()).includes(v1.dbName)) {
    await client.createDatabase(v1.dbName);
    logger.info(`created InfluxDB database '${v1.dbName}'`);
  }
  const { name, duration } = v1.retentionPolicy;
  const policies = await client.showRetentionPolicies(v1.dbName);
  if (!policies.some((policy) => policy.name === name)) {
    await client.createRetentionPolicy(name, {
      database: v1.dbName,
      duration,
      replication: 1,
      isDefault: true,
    });
    logger.info(`created retention policy '${name}' (${duration}) on '${v1.dbName}' as its default`);
  }
}

async function ensureV2Target(
  config: InfluxdbConfig,
  connection: InfluxConnection,
  logger: Logger,
): Promise<void> {
  const v2 = config.v2Config!;
  const { transport } = new InfluxV2({ url: connection.url, token: v2.token, timeout: connection.timeoutMs });
  const get = (path: string) => transport.request(path, '', { method: 'GET' });
  let orgID: string;
  try {
    const found = (await get(`/api/v2/orgs?org=${encodeURIComponent(v2.org)}`)) as {
      orgs: Array<{ id: string }>;
    };
    orgID = found.orgs[0].id;
  } catch (error) {
    if (httpStatusOf(error) !== 404) throw error;
    throw new InfluxSetupProblem(
      `InfluxDB org '${v2.org}' does not exist: create it, or fix destination.influxdb.v2Config.org`,
    );
  }
  try {
    await get(`/api/v2/buckets?orgID=${encodeURIComponent(orgID)}&name=${encodeURIComponent(v2.bucket)}`);
    return;
  } catch (error) {
    if (httpStatusOf(error) !== 404) throw error;
  }
  // Retention comes only from retentionRules: upstream's `rp` is a label, so its buckets never expire.
  const everySeconds = durationSeconds(v2.retentionDuration);
  const retentionRules = everySeconds > 0 ? [{ type: 'expire', everySeconds }] : [];
  await transport.request(
    '/api/v2/buckets',
    { orgID, name: v2.bucket, description: v2.description, retentionRules },
    { method: 'POST', headers: { 'content-type': 'application/json' } },
  );
  logger.info(
    `created InfluxDB bucket '${v2.bucket}' (retention ${everySeconds > 0 ? `${everySeconds} s` : 'infinite'})`,
  );
}

async function ensureV3Target(config: InfluxdbConfig, connection: InfluxConnection): Promise<void> {
  const v3 = config.v3Config!;
  const response = await fetch(`${connection.url}/api/v3/configure/database?format=json`, {
    headers: { authorization: `Bearer ${v3.token}` },
    signal: AbortSignal.timeout(connection.timeoutMs),
  });
  if (refusesCredentials(response.status)) {
    throw new InfluxSetupProblem(
      `InfluxDB 3 refused the token (${response.status}): fix destination.influxdb.v3Config.token`,
    );
  }
  if (!response.ok) throw new Error(`InfluxDB 3 answered ${response.status} to the database list`);
  const databases = (await response.json()) as Array<Record<string, string>>;
  if (!databases.some((row) => row['iox::database'] === v3.database)) {
    throw new InfluxSetupProblem(
      `InfluxDB 3 database '${v3.database}' does not exist; it is never created automatically. ` +
        `Create it (influxdb3 create database ${v3.database}), or fix destination.influxdb.v3Config.database`,
    );
  }
}

/** Makes sure the configured database/bucket exists (v1, v2) or is there (v3). */
async function ensureInfluxTarget(
  config: InfluxdbConfig,
  connection: InfluxConnection,
  logger: Logger,
): Promise<void> {
  switch (config.version) {
    case 1:
      return ensureV1Target(config, connection, logger);
    case 2:
      return ensureV2Target(config, connection, logger);
    case 3:
      return ensureV3Target(config, connection);
  }
}

interface BackgroundSetup {
  /** Resolves once the target is ready (never rejects; stop() ends the attempts). */
  ready: Promise<void>;
  stop(): void;
}

/** Runs the startup hooks, retrying in the background until they succeed or stop() is called. */
export function startInfluxSetup(config: InfluxdbConfig, logger: Logger): BackgroundSetup {
  const connection = influxConnection(config);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => {};
  const attempt = async (delayMs: number): Promise<void> => {
    while (!stopped) {
      try {
        await ensureInfluxTarget(config, connection, logger);
        logger.info(`InfluxDB v${config.version} target at ${connection.url} is ready`);
        return;
      } catch (error) {
        const problem =
          error instanceof InfluxSetupProblem
            ? error.message
            : `unreachable or failing (${errorMessage(error)})`;
        logger.error(
          `InfluxDB setup at ${connection.url}: ${problem}; retrying in ${Math.round(delayMs / 1000)} s, events wait`,
        );
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, delayMs);
        timer.unref();
      });
      delayMs = Math.min(RETRY_MAX_MS, delayMs * 2);
    }
  };
  return {
    ready: attempt(RETRY_INITIAL_MS),
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake();
    },
  };
}
