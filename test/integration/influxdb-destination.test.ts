/**
 * The InfluxDB destination end to end, for v1, v2 and v3: events posted over HTTP to the
 * whole module, written through the real client libraries, stored by a real influxd 1.x
 * (directly for v1, through the strict v2/v3 emulator otherwise), and queried back.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import { createInfluxdbDestination } from '../../src/lib/audit-destinations/influxdb/buffer.js';
import { auditPointTimestampNs } from '../../src/lib/audit-destinations/influxdb/point-model.js';
import type { InfluxWriteError } from '../../src/lib/audit-destinations/influxdb/write-errors.js';
import { createInfluxPointWriter } from '../../src/lib/audit-destinations/influxdb/writers.js';
import { DeadLetterFile } from '../../src/lib/audit-destinations/dead-letter.js';
import { utcDate } from '../../src/lib/audit-events/event-time.js';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { recordingLogger } from '../support/recording-logger.js';
import { makeAuditRecord } from '../support/audit-records.js';
import { deliverRecords } from '../support/deliver.js';
import { destinationHealth, postAuditEventStatus } from '../support/audit-api-client.js';
import { freshEnvelope } from '../support/fixtures.js';
import { startInfluxEmulator, type InfluxEmulator } from '../support/influx-emulator/index.js';
import { eventually, sleep } from '../support/eventually.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { typeConflictText } from '../support/influx-type-conflict.js';
import { tempDir } from '../support/module-process.js';

const TOKEN = 'audit-token';

interface RunningModule {
  baseUrl: string;
  module: AuditModule;
  logs: string[];
  journalDirectory: string;
}

/** Waits until the module's startup hook has created `database` on `server`. */
async function databaseCreated(server: InfluxdServer, database: string): Promise<void> {
  await eventually(
    async () => {
      // Until the first database exists, influxd answers a series without values, which query() cannot read.
      const databases = await server.query(database, 'SHOW DATABASES').catch(() => []);
      return databases.some((row) => row.name === database) ? true : undefined;
    },
    30000,
    `the database ${database}`,
  );
}

async function databaseNames(server: InfluxdServer): Promise<unknown[]> {
  return (await server.query('', 'SHOW DATABASES')).map((row) => row.name);
}

/** The databases an InfluxDB 3 (emulator) lists. */
async function v3DatabaseList(emulator: InfluxEmulator): Promise<string[]> {
  const response = await fetch(`${emulator.url}/api/v3/configure/database?format=json`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return ((await response.json()) as Array<Record<string, string>>).map((row) => row['iox::database']);
}

/** An event of now (so that it lands in the current shard), with a fresh eventId. */
function eventNow(type: string, changes: (envelope: AuditEnvelope) => void = () => {}): AuditEnvelope {
  const envelope = freshEnvelope(type, { timestamp: new Date().toISOString() });
  changes(envelope);
  return envelope;
}

interface VersionCase {
  version: 1 | 2 | 3;
  /** The database in influxd where this version's points land. */
  database: string;
  /** The `destination.influxdb` block. */
  influxdbConfig(overrides?: Record<string, unknown>): Record<string, unknown>;
  emulator?: InfluxEmulator;
}

describe('InfluxDB destination, end to end', function () {
  this.timeout(180000);
  let influxd: InfluxdServer;
  let running: RunningModule[] = [];

  before(async () => {
    influxd = await startInfluxd();
  });

  after(async () => {
    await influxd.stop();
  });

  afterEach(async () => {
    await Promise.all(running.map((entry) => entry.module.stop()));
    running = [];
  });

  async function startModule(
    influxdb: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Promise<RunningModule> {
    const journalDirectory = tempDir('influx-journal');
    const config = validConfig({
      port: 0,
      rateLimit: { enable: false },
      shutdownTimeoutMs: 5000,
      journal: { directory: journalDirectory },
      destination: { type: 'influxdb', influxdb },
      ...extra,
    });
    const { logger, lines: logs } = recordingLogger('info');
    const module = createAuditModule(config, { logger, version: 'test' });
    const address = await module.start();
    const entry = { baseUrl: `http://127.0.0.1:${address?.port}`, module, logs, journalDirectory };
    running.push(entry);
    return entry;
  }

  async function pointsOf(database: string, eventId: string): Promise<Record<string, unknown>[]> {
    return influxd.query(database, `SELECT * FROM audit_event WHERE "eventId" = '${eventId}'`, {
      epoch: 'ns',
    });
  }

  /** The event's points, none when its database does not exist (yet). */
  async function pointsIfAny(database: string, eventId: string): Promise<Record<string, unknown>[]> {
    return (await databaseNames(influxd)).includes(database) ? pointsOf(database, eventId) : [];
  }

  async function storedPoint(database: string, eventId: string): Promise<Record<string, unknown>> {
    return eventually(
      async () => (await pointsOf(database, eventId).catch(() => []))[0],
      30000,
      `event ${eventId}`,
    );
  }

  function v1Case(database: string): VersionCase {
    return {
      version: 1,
      database,
      influxdbConfig: (overrides = {}) => ({
        host: '127.0.0.1',
        port: influxd.port,
        version: 1,
        writeFrequency: 200,
        v1Config: { dbName: database, retentionPolicy: { name: 'audit', duration: '52w' } },
        ...overrides,
      }),
    };
  }

  async function v2Case(bucket: string): Promise<VersionCase> {
    const emulator = await startInfluxEmulator({ version: 2, influxd, token: TOKEN, orgs: ['butler'] });
    return {
      version: 2,
      database: bucket,
      emulator,
      influxdbConfig: (overrides = {}) => ({
        host: '127.0.0.1',
        port: emulator.port,
        version: 2,
        writeFrequency: 200,
        v2Config: {
          org: 'butler',
          bucket,
          description: 'Butler SOS audit events',
          token: TOKEN,
          retentionDuration: '30d',
        },
        ...overrides,
      }),
    };
  }

  async function v3Case(database: string): Promise<VersionCase> {
    const emulator = await startInfluxEmulator({ version: 3, influxd, token: TOKEN, databases: [database] });
    return {
      version: 3,
      database,
      emulator,
      influxdbConfig: (overrides = {}) => ({
        host: '127.0.0.1',
        port: emulator.port,
        version: 3,
        writeFrequency: 200,
        v3Config: { database, description: 'Butler SOS audit events', token: TOKEN, writeTimeout: 5000 },
        ...overrides,
      }),
    };
  }

  const cases: Array<[string, (suffix: string) => Promise<VersionCase>]> = [
    ['v1', async (suffix) => v1Case(`audit_v1_${suffix}`)],
    ['v2', async (suffix) => v2Case(`audit_v2_${suffix}`)],
    ['v3', async (suffix) => v3Case(`audit_v3_${suffix}`)],
  ];

  for (const [label, makeCase] of cases) {
    describe(label, () => {
      let versionCase: VersionCase;
      afterEach(async () => {
        await versionCase?.emulator?.stop();
      });

      it('stores every posted event with the values docs/influxdb.md prescribes, exact where line protocol allows', async () => {
        versionCase = await makeCase('values');
        const { baseUrl } = await startModule(versionCase.influxdbConfig());
        const tricky = eventNow('object.view.duration', (envelope) => {
          Object.assign(envelope.payload.context!, {
            appName: 'Sales, "Q4" = 50% \\Nordics 東京 🎉 a \\ b',
            sheetName: 'Line one\nline two\ttabbed, "quoted" \\ end\\',
            user: 'CORP\\anna.lindqvist',
          });
          Object.assign(envelope.payload.event!, { objectId: 'obj=1, "x" \\y\\', duration: 4210.5 });
        });
        const trailingBackslash = eventNow('navigation.sheet.loaded', (envelope) => {
          envelope.payload.context!.appName = 'Finance\\2026\\';
        });
        expect(await postAuditEventStatus(baseUrl, tricky)).to.equal(202);
        expect(await postAuditEventStatus(baseUrl, trailingBackslash)).to.equal(202);

        const point = await storedPoint(versionCase.database, tricky.eventId);
        const idTags = versionCase.version === 3;
        expect(point).to.deep.include({
          time: auditPointTimestampNs(Date.parse(tricky.timestamp), tricky.eventId),
          eventType: 'object.view.duration',
          auditEventSchemaVersion: '1',
          appId: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
          appName: 'Sales, "Q4" = 50% \\Nordics 東京 🎉 a ＼ b',
          sheetName: 'Line one line two tabbed, "quoted" \\ end\\',
          user: 'CORP\\anna.lindqvist',
          userDirectory: 'CORP',
          userId: 'anna.lindqvist',
          objectId: 'obj=1, "x" \\y\\',
          durationMs: 4210.5,
          visible: false,
          leftAt: '2026-10-14T08:15:42.512Z',
          dataStateId: 1792915011904,
          eventId: tricky.eventId,
          correlationId: tricky.correlationId,
          selectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
        });
        if (idTags) expect(point.eventIdField).to.equal(tricky.eventId);
        const other = await storedPoint(versionCase.database, trailingBackslash.eventId);
        expect(other.appName).to.equal('Finance\\2026＼');
        if (versionCase.emulator) expect(versionCase.emulator.stats.noSyncRequests).to.equal(0);
      });

      it('keeps two events of one millisecond with identical tags, and skips nothing', async () => {
        versionCase = await makeCase('same_ms');
        const { baseUrl } = await startModule(versionCase.influxdbConfig());
        const timestamp = new Date().toISOString();
        const twins = [0, 1].map(() =>
          eventNow('object.visibility.changed', (envelope) => (envelope.timestamp = timestamp)),
        );
        for (const envelope of twins) expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
        for (const envelope of twins) await storedPoint(versionCase.database, envelope.eventId);
        const eventIdField = versionCase.version === 3 ? 'eventIdField' : 'eventId';
        const rows = await influxd.query(
          versionCase.database,
          `SELECT count("${eventIdField}") AS n FROM audit_event`,
        );
        expect(Number(rows[0].n)).to.equal(2);
      });

      it('dead-letters a poison point with the server message and stores the rest of its batch', async () => {
        versionCase = await makeCase('poison');
        const { baseUrl, journalDirectory, module } = await startModule(
          versionCase.influxdbConfig({ writeFrequency: 60000, maxBatchSize: 1000 }),
        );
        // The seed must land where the module writes: wait for the startup hooks to finish
        // (on v1 the configured retention policy, created after the database, becomes the default).
        const targetPolicy = versionCase.version === 1 ? 'audit' : undefined;
        await eventually(
          async () => {
            const policies = await influxd
              .query(versionCase.database, 'SHOW RETENTION POLICIES')
              .catch(() => []);
            const preferred = policies.find((row) => row.default === true);
            return preferred && (targetPolicy === undefined || preferred.name === targetPolicy)
              ? true
              : undefined;
          },
          30000,
          'the database and its default retention policy',
        );
        // `visible` already stored as a string: the one event carrying a boolean `visible` conflicts.
        const seeded = await influxd.write(
          versionCase.database,
          `audit_event visible="yes",seed="seed" ${Date.now()}000000`,
        );
        expect(seeded.status).to.equal(204);
        const healthy = Array.from({ length: 9 }, () => eventNow('navigation.sheet.loaded'));
        const poison = eventNow('object.view.duration');
        for (const envelope of [...healthy.slice(0, 5), poison, ...healthy.slice(5)]) {
          expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
        }
        await module.stop(); // flushes the batch
        running = running.filter((entry) => entry.module !== module);

        for (const envelope of healthy)
          expect(await pointsOf(versionCase.database, envelope.eventId)).to.have.length(1);
        expect(await pointsOf(versionCase.database, poison.eventId)).to.have.length(0);
        const deadLetterFile = path.join(
          journalDirectory,
          'dead-letter',
          `influxdb-${utcDate(Date.now())}.ndjson`,
        );
        const deadLetters = readFileSync(deadLetterFile, 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line));
        expect(deadLetters).to.have.length(1);
        expect(deadLetters[0]).to.include({ destination: 'influxdb', eventId: poison.eventId });
        expect(deadLetters[0].reason).to.include(typeConflictText(versionCase.version, 'visible'));
        expect(deadLetters[0].payload).to.include(poison.eventId);
      });
    });
  }

  describe('startup hooks', () => {
    it('v1: creates the database and the retention policy as the default', async () => {
      const { database, influxdbConfig } = v1Case('audit_v1_setup');
      await startModule(influxdbConfig());
      const policies = await eventually(async () => {
        const rows = await influxd.query(database, 'SHOW RETENTION POLICIES').catch(() => []);
        return rows.some((row) => row.name === 'audit') ? rows : undefined;
      });
      expect(policies.find((row) => row.name === 'audit')).to.deep.include({
        duration: '8736h0m0s',
        default: true,
      });
    });

    it('v2: finds the org and creates the bucket with its description and retention rules', async () => {
      const versionCase = await v2Case('audit_v2_setup');
      const emulator = versionCase.emulator!;
      try {
        await startModule(versionCase.influxdbConfig());
        const bucket = await eventually(async () => {
          const response = await fetch(
            `${emulator.url}/api/v2/buckets?orgID=${emulator.orgId('butler')}&name=audit_v2_setup`,
            { headers: { authorization: `Token ${TOKEN}` } },
          );
          return response.status === 200
            ? ((await response.json()) as { buckets: Array<Record<string, unknown>> }).buckets[0]
            : undefined;
        });
        expect(bucket).to.deep.include({ name: 'audit_v2_setup', description: 'Butler SOS audit events' });
        expect(bucket.retentionRules).to.have.length(1);
        expect((bucket.retentionRules as object[])[0]).to.deep.include({
          type: 'expire',
          everySeconds: 2592000,
        });
        const policies = await influxd.query('audit_v2_setup', 'SHOW RETENTION POLICIES');
        expect(policies.some((row) => row.duration === '720h0m0s')).to.equal(true);
      } finally {
        await emulator.stop();
      }
    });

    it('v2: a missing org is reported with the fix, nothing is created meanwhile, and the events arrive once it exists', async () => {
      const versionCase = await v2Case('audit_v2_late_org');
      const emulator = versionCase.emulator!;
      try {
        const { baseUrl, logs, journalDirectory } = await startModule(
          versionCase.influxdbConfig({
            v2Config: {
              org: 'nobody',
              bucket: versionCase.database,
              description: 'd',
              token: TOKEN,
              retentionDuration: '30d',
            },
          }),
        );
        const event = eventNow('navigation.sheet.loaded');
        expect(await postAuditEventStatus(baseUrl, event)).to.equal(202);
        await eventually(async () =>
          emulator.requests.some((request) => request.path === '/api/v2/write' && request.status === 404)
            ? true
            : undefined,
        );
        await eventually(async () =>
          logs.some((line) => line.includes("InfluxDB org 'nobody' does not exist")) ? true : undefined,
        );
        expect(await databaseNames(influxd)).to.not.include(versionCase.database);

        const created = await fetch(`${emulator.url}/api/v2/orgs`, {
          method: 'POST',
          headers: { authorization: `Token ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'nobody' }),
        });
        expect(created.status).to.equal(201);
        await storedPoint(versionCase.database, event.eventId);
        const policies = await influxd.query(versionCase.database, 'SHOW RETENTION POLICIES');
        expect(policies.map((row) => row.duration)).to.deep.equal(['720h0m0s']);
        expect(existsSync(path.join(journalDirectory, 'dead-letter'))).to.equal(false);
      } finally {
        await emulator.stop();
      }
    });

    it('v3: a missing database is never created, not even by the writes; the events wait and arrive once it exists', async () => {
      const versionCase = await v3Case('audit_v3_present');
      const emulator = versionCase.emulator!;
      const absent = 'audit_v3_absent';
      const influxdb = versionCase.influxdbConfig({
        v3Config: { database: absent, description: 'd', token: TOKEN, writeTimeout: 5000 },
      });
      try {
        // The shutdown flush tries to write whatever it holds: once stop() returns, nothing more happens.
        const first = await startModule(influxdb, { shutdownTimeoutMs: 1000 });
        const event = eventNow('navigation.sheet.loaded');
        expect(await postAuditEventStatus(first.baseUrl, event)).to.equal(202);
        const line = await eventually(async () =>
          first.logs.find((entry) => entry.includes(`database '${absent}' does not exist`)),
        );
        expect(line).to.include(`influxdb3 create database ${absent}`);
        await first.module.stop();
        running = running.filter((entry) => entry !== first);

        expect(await databaseNames(influxd)).to.not.include(absent);
        expect(await v3DatabaseList(emulator)).to.not.include(absent);
        expect(emulator.requests.filter((request) => request.path.includes('write'))).to.deep.equal([]);

        // The operator creates it; the event, kept in the journal, follows.
        const created = await fetch(`${emulator.url}/api/v3/configure/database`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ db: absent }),
        });
        expect(created.status).to.equal(200);
        const second = await startModule(influxdb, { journal: { directory: first.journalDirectory } });
        await storedPoint(absent, event.eventId);
        expect(existsSync(path.join(second.journalDirectory, 'dead-letter'))).to.equal(false);
      } finally {
        await emulator.stop();
      }
    });

    it('v3: the queue metrics wait for the startup check too: a missing database is not created by them', async () => {
      const versionCase = await v3Case('audit_v3_metrics_present');
      const emulator = versionCase.emulator!;
      const absent = 'audit_v3_metrics_absent';
      const influxdb = versionCase.influxdbConfig({
        v3Config: { database: absent, description: 'd', token: TOKEN, writeTimeout: 5000 },
      });
      try {
        const withMetrics = await startModule(influxdb, {
          shutdownTimeoutMs: 1000,
          queue: { queueMetrics: { influxdb: { enable: true, writeFrequency: 50 } } },
        });
        await eventually(async () =>
          withMetrics.logs.find((entry) => entry.includes(`database '${absent}' does not exist`)),
        );
        // Several intervals' points, each held back by the same gate as the events.
        await eventually(
          async () =>
            withMetrics.logs.filter((entry) => entry.includes('queue metrics: could not write')).length >= 3
              ? true
              : undefined,
          10000,
          'three queue-metrics points held back',
        );
        await withMetrics.module.stop();
        running = running.filter((entry) => entry !== withMetrics);

        expect(await databaseNames(influxd)).to.not.include(absent);
        expect(await v3DatabaseList(emulator)).to.not.include(absent);
        expect(emulator.requests.filter((request) => request.path.includes('write'))).to.deep.equal([]);
      } finally {
        await emulator.stop();
      }
    });
  });

  describe('failures', () => {
    for (const [label, makeCase] of cases) {
      it(`${label}: the server down for a while, then back: nothing lost`, async () => {
        const versionCase = await makeCase('outage');
        try {
          const { baseUrl } = await startModule(versionCase.influxdbConfig({ writeFrequency: 100 }));
          const before = eventNow('navigation.sheet.loaded');
          expect(await postAuditEventStatus(baseUrl, before)).to.equal(202);
          await storedPoint(versionCase.database, before.eventId);
          await influxd.halt(); // for v2/v3 the emulator then fails every write with a 5xx
          const during = Array.from({ length: 20 }, () => eventNow('object.view.duration'));
          try {
            for (const envelope of during)
              expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
            await sleep(2500); // several failed attempts
          } finally {
            await influxd.restart();
          }
          for (const envelope of [before, ...during])
            await storedPoint(versionCase.database, envelope.eventId);
        } finally {
          await versionCase.emulator?.stop();
        }
      });
    }

    it('v1: the server unreachable at start: the module runs, and the database and events follow once it is up', async () => {
      const { database, influxdbConfig } = v1Case('audit_v1_late_server');
      await influxd.halt();
      let baseUrl: string;
      const events = Array.from({ length: 5 }, () => eventNow('navigation.sheet.loaded'));
      try {
        ({ baseUrl } = await startModule(influxdbConfig({ writeFrequency: 100 })));
        for (const envelope of events) expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
      } finally {
        await influxd.restart();
      }
      for (const envelope of events) await storedPoint(database, envelope.eventId);
    });

    /** The loop's pending retry, once the last write failed: its computed delay, not a clock reading. */
    async function pendingRetry(baseUrl: string) {
      return eventually(async () => {
        const status = await destinationHealth(baseUrl, 'influxdb');
        return status.retryDelayMs === null ? undefined : status;
      });
    }

    it('v1: waits as long as a 503 Retry-After asks (a proxy in front of influxd sends it)', async () => {
      const { database, influxdbConfig } = v1Case('audit_v1_retry_after');
      const proxy = await startFaultProxy(influxd.port);
      try {
        const { baseUrl } = await startModule(influxdbConfig({ port: proxy.port, writeFrequency: 0 }), {
          shutdownTimeoutMs: 0,
        });
        const first = eventNow('navigation.sheet.loaded');
        expect(await postAuditEventStatus(baseUrl, first)).to.equal(202);
        await storedPoint(database, first.eventId); // the target is set up
        proxy.failNextWrites(1, { status: 503, retryAfterSeconds: 3600 });
        const event = eventNow('navigation.sheet.loaded');
        expect(await postAuditEventStatus(baseUrl, event)).to.equal(202);
        const retry = await pendingRetry(baseUrl);
        expect(retry.retryDelayMs).to.equal(3_600_000);
        expect(retry.lastError).to.include('HTTP 503');
        // The event waits in the journal for the hour: neither stored nor retried yet.
        const writes = proxy.requests.filter((request) => request.path.startsWith('/write'));
        expect(writes.filter((request) => request.status === 503)).to.have.length(1);
        expect(writes.at(-1)?.status).to.equal(503);
        expect(await pointsOf(database, event.eventId)).to.have.length(0);
      } finally {
        await proxy.stop();
      }
    });

    for (const [label, makeCase] of cases.filter(([name]) => name !== 'v1')) {
      it(`${label}: waits as long as a 503 Retry-After asks`, async () => {
        const versionCase = await makeCase('retry_after');
        const emulator = versionCase.emulator!;
        try {
          const { baseUrl } = await startModule(versionCase.influxdbConfig({ writeFrequency: 0 }), {
            shutdownTimeoutMs: 0,
          });
          const first = eventNow('navigation.sheet.loaded');
          expect(await postAuditEventStatus(baseUrl, first)).to.equal(202);
          await storedPoint(versionCase.database, first.eventId); // the target is set up
          emulator.failNextWrites(1, { status: 503, retryAfterSeconds: 3600 });
          const event = eventNow('navigation.sheet.loaded');
          expect(await postAuditEventStatus(baseUrl, event)).to.equal(202);
          const retry = await pendingRetry(baseUrl);
          expect(retry.retryDelayMs).to.equal(3_600_000);
          expect(retry.lastError).to.include('HTTP 503');
          expect(emulator.requests.filter((request) => request.status === 503)).to.have.length(1);
          expect(await pointsOf(versionCase.database, event.eventId)).to.have.length(0);
        } finally {
          await emulator.stop();
        }
      });

      it(`${label}: an authentication failure keeps the points until the token is fixed, without dead-lettering`, async () => {
        const versionCase = await makeCase('auth');
        const emulator = versionCase.emulator!;
        emulator.setToken('the-real-token');
        try {
          const { baseUrl, logs, journalDirectory } = await startModule(
            versionCase.influxdbConfig({ writeFrequency: 100 }),
          );
          const events = Array.from({ length: 5 }, () => eventNow('navigation.sheet.loaded'));
          for (const envelope of events) expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
          // The server refused the token: on v2 a write, on v3 the startup check (v3 writes wait for it).
          await eventually(async () =>
            emulator.requests.some((request) => request.status === 401) ? true : undefined,
          );
          for (const envelope of events)
            expect(await pointsIfAny(versionCase.database, envelope.eventId)).to.deep.equal([]);
          await eventually(async () =>
            logs.some((line) => /refused the (credentials|token)/.test(line)) ? true : undefined,
          );
          emulator.setToken(TOKEN); // the operator fixes the server side
          for (const envelope of events) await storedPoint(versionCase.database, envelope.eventId);
          expect(existsSync(path.join(journalDirectory, 'dead-letter'))).to.equal(false);
        } finally {
          await emulator.stop();
        }
      });
    }

    it('v1: an authentication failure keeps the points until the user exists, without dead-lettering', async () => {
      const secured = await startInfluxd({ authEnabled: true });
      const proxy = await startFaultProxy(secured.port); // to see influxd's 401s
      const rowsOf = (eventId: string) =>
        secured.query('audit_v1_auth', `SELECT * FROM audit_event WHERE "eventId" = '${eventId}'`);
      try {
        await secured.ddl('CREATE DATABASE audit_v1_auth');
        const { baseUrl, logs, journalDirectory } = await startModule({
          host: '127.0.0.1',
          port: proxy.port,
          version: 1,
          writeFrequency: 100,
          v1Config: {
            dbName: 'audit_v1_auth',
            auth: { enable: true, username: 'auditor', password: 'secret' },
          },
        });
        const events = Array.from({ length: 5 }, () => eventNow('navigation.sheet.loaded'));
        for (const envelope of events) expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
        await eventually(async () =>
          proxy.requests.some((request) => request.path === '/write' && request.status === 401)
            ? true
            : undefined,
        );
        for (const envelope of events) expect(await rowsOf(envelope.eventId)).to.deep.equal([]);
        await eventually(async () =>
          logs.some((line) => line.includes('refused the credentials')) ? true : undefined,
        );
        await secured.ddl("CREATE USER auditor WITH PASSWORD 'secret' WITH ALL PRIVILEGES"); // the fix
        for (const envelope of events) {
          await eventually(
            async () => ((await rowsOf(envelope.eventId)).length === 1 ? true : undefined),
            60000,
            `event ${envelope.eventId}`,
          );
        }
        expect(existsSync(path.join(journalDirectory, 'dead-letter'))).to.equal(false);
      } finally {
        await Promise.all(running.map((entry) => entry.module.stop()));
        running = [];
        await proxy.stop();
        await secured.stop();
      }
    });

    it('v1: a batch larger than the server takes (413) is split until it fits, and all of it is stored', async () => {
      const small = await startInfluxd({ maxBodySize: 16384 });
      try {
        const { baseUrl, module } = await startModule({
          host: '127.0.0.1',
          port: small.port,
          version: 1,
          writeFrequency: 60000,
          maxBatchSize: 1000,
          v1Config: { dbName: 'audit_v1_413' },
        });
        await databaseCreated(small, 'audit_v1_413');
        const events = Array.from({ length: 100 }, () => eventNow('object.view.duration')); // ~70 KB of line protocol
        for (const envelope of events) expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
        await module.stop(); // one flush of all 100
        running = running.filter((entry) => entry.module !== module);
        const rows = await small.query('audit_v1_413', 'SELECT count("eventId") AS n FROM audit_event');
        expect(Number(rows[0].n)).to.equal(100);
      } finally {
        await small.stop();
      }
    });

    it('v1: one event larger than the server takes (413) is kept and retried, never dead-lettered, and stored once the limit is raised', async () => {
      const small = await startInfluxd({ maxBodySize: 16384 });
      const proxy = await startFaultProxy(small.port); // to see influxd's 413s
      const rowsOf = (eventId: string) =>
        small.query('audit_v1_413_one', `SELECT * FROM audit_event WHERE "eventId" = '${eventId}'`);
      try {
        const { baseUrl, logs, journalDirectory } = await startModule({
          host: '127.0.0.1',
          port: proxy.port,
          version: 1,
          writeFrequency: 100,
          v1Config: { dbName: 'audit_v1_413_one' },
        });
        // Written only once the database exists: a 404 first would hold back the next log for a minute.
        await databaseCreated(small, 'audit_v1_413_one');
        const big = eventNow('object.view.duration', (envelope) => {
          envelope.payload.event!.objectData = 'x'.repeat(20000); // one line over 16 KB
        });
        expect(await postAuditEventStatus(baseUrl, big)).to.equal(202);
        const refusals = () =>
          proxy.requests.filter((request) => request.path === '/write' && request.status === 413).length;
        await eventually(async () => (refusals() >= 2 ? true : undefined)); // refused, and retried
        expect(await rowsOf(big.eventId)).to.deep.equal([]);
        expect(existsSync(path.join(journalDirectory, 'dead-letter'))).to.equal(false);
        await eventually(async () =>
          logs.some((line) => line.includes('a single event is larger than')) ? true : undefined,
        );

        await small.restart({ maxBodySize: 1_000_000 }); // the fix the log names
        await eventually(async () => ((await rowsOf(big.eventId)).length === 1 ? true : undefined), 60000);
        expect(existsSync(path.join(journalDirectory, 'dead-letter'))).to.equal(false);
      } finally {
        await Promise.all(running.map((entry) => entry.module.stop()));
        running = [];
        await proxy.stop();
        await small.stop();
      }
    });
  });

  /**
   * The destination itself rather than the whole module, so that every request its sink makes
   * can be watched: a stub around the real writer records each write's size and outcome, and
   * can queue an emulator fault at a chosen moment.
   */
  describe('isolating one poison point in a full batch', () => {
    const EVENTS = 1000;
    const POISON = 637;

    interface Attempt {
      size: number;
      /** Set when the write failed. */
      kind?: InfluxWriteError['kind'];
    }

    async function writeBatchWithPoison(
      versionCase: VersionCase,
      afterFailure: (attempt: Attempt, attempts: Attempt[]) => void = () => {},
    ): Promise<{ attempts: Attempt[]; poisonEventId: string; deadLetterFile: string }> {
      const config = validConfig({
        destination: {
          type: 'influxdb',
          influxdb: versionCase.influxdbConfig({ writeFrequency: 600000, maxBatchSize: EVENTS }),
        },
      }).destination.influxdb!;
      const writer = createInfluxPointWriter(config, createSilentLogger());
      const realWrite = writer.write;
      const attempts: Attempt[] = [];
      sinon.stub(writer, 'write').callsFake(async (lines: string[]) => {
        const attempt: Attempt = { size: lines.length };
        attempts.push(attempt);
        try {
          await realWrite(lines);
        } catch (error) {
          attempt.kind = (error as InfluxWriteError).kind;
          afterFailure(attempt, attempts);
          throw error;
        }
      });
      const deadLetters = new DeadLetterFile(tempDir('isolation-dead-letter'), 'influxdb');
      const destination = createInfluxdbDestination(config, { logger: createSilentLogger(), writer });
      await destination.ready; // the database and its default retention policy exist
      const start = Date.now();
      // `visible` already stored as a string: the one event carrying a boolean `visible` conflicts.
      const seeded = await influxd.write(
        versionCase.database,
        `audit_event visible="yes",seed="seed" ${start - 1}000000`,
      );
      expect(seeded.status).to.equal(204);
      const records = Array.from({ length: EVENTS }, (_, i) =>
        makeAuditRecord({ timestampMs: start + i, visible: i === POISON ? false : null }),
      );
      await deliverRecords(destination, records, { deadLetters }); // one batch, until every event is settled
      await destination.close();
      return { attempts, poisonEventId: records[POISON].eventId, deadLetterFile: deadLetters.currentPath() };
    }

    /** Every healthy event stored once, the poison only in the dead-letter file, once. */
    async function expectPoisonIsolated(
      { version, database }: VersionCase,
      { poisonEventId, deadLetterFile }: { poisonEventId: string; deadLetterFile: string },
    ): Promise<void> {
      // Distinct timestamps: a healthy event written twice overwrites itself, so 999 means each once.
      const rows = await influxd.query(database, 'SELECT count("eventId") AS n FROM audit_event');
      expect(Number(rows[0].n)).to.equal(EVENTS - 1);
      expect(await pointsOf(database, poisonEventId)).to.have.length(0);
      const deadLetters = readFileSync(deadLetterFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(deadLetters).to.have.length(1);
      expect(deadLetters[0]).to.include({ destination: 'influxdb', eventId: poisonEventId });
      expect(deadLetters[0].reason).to.include(typeConflictText(version, 'visible'));
      expect(deadLetters[0].payload).to.include(poisonEventId);
    }

    const refusedSizes = (attempts: Attempt[]) =>
      attempts.filter((attempt) => attempt.kind === 'rejected').map((attempt) => attempt.size);

    it('v1: narrows 1000 → 500 → 250 → 100 → 10 → 1, stores the other 999 and dead-letters the poison once', async () => {
      const versionCase = v1Case('audit_v1_isolation');
      const outcome = await writeBatchWithPoison(versionCase);
      expect(refusedSizes(outcome.attempts)).to.deep.equal([1000, 500, 250, 100, 10, 1]);
      expect(
        outcome.attempts.every((attempt) => attempt.kind === undefined || attempt.kind === 'rejected'),
      ).to.equal(true);
      await expectPoisonIsolated(versionCase, outcome);
    });

    it('v2: a transient fault right after the first refusal: the batch is retried, nothing stored twice or lost', async () => {
      const versionCase = await v2Case('audit_v2_isolation_fault');
      const emulator = versionCase.emulator!;
      try {
        let faulted = false;
        const outcome = await writeBatchWithPoison(versionCase, (attempt) => {
          if (attempt.kind === 'rejected' && !faulted) {
            faulted = true;
            emulator.failNextWrites(1, { status: 503 });
          }
        });
        // The fault hit the first half (500), which was retried on its own and written; the
        // isolation went on from there, without starting over.
        expect(outcome.attempts.slice(0, 3)).to.deep.equal([
          { size: 1000, kind: 'rejected' },
          { size: 500, kind: 'transient' },
          { size: 500 },
        ]);
        expect(refusedSizes(outcome.attempts)).to.deep.equal([1000, 500, 250, 100, 10, 1]);
        await expectPoisonIsolated(versionCase, outcome);
      } finally {
        await emulator.stop();
      }
    });

    it('v2: a transient fault right after the poison was refused alone: it is dead-lettered once, the next event retried', async () => {
      const versionCase = await v2Case('audit_v2_isolation_late_fault');
      const emulator = versionCase.emulator!;
      try {
        let faulted = false;
        const outcome = await writeBatchWithPoison(versionCase, (attempt) => {
          if (attempt.kind === 'rejected' && attempt.size === 1 && !faulted) {
            faulted = true;
            emulator.failNextWrites(1, { status: 503 });
          }
        });
        // The event after the poison, written alone as the isolation goes on, met the fault:
        // it was retried alone and written, and the poison was not sent again.
        const transient = outcome.attempts.findIndex((attempt) => attempt.kind === 'transient');
        expect(outcome.attempts[transient]).to.deep.equal({ size: 1, kind: 'transient' });
        expect(outcome.attempts[transient + 1]).to.deep.equal({ size: 1 });
        expect(refusedSizes(outcome.attempts)).to.deep.equal([1000, 500, 250, 100, 10, 1]);
        await expectPoisonIsolated(versionCase, outcome);
      } finally {
        await emulator.stop();
      }
    });
  });
});
