/**
 * The InfluxDB v1, v2 and v3 writers through their real client packages: v1 against a real
 * influxd 1.x, v2 and v3 against the emulator that stores into that influxd (docs/testing.md).
 * What influxd stored is read back and compared value by value. A recording fault proxy in
 * front of those servers shows what each client puts on the wire, and how each answer is
 * classified: the servers' own answers wherever they give them, an answer injected by the
 * proxy only where the real server never sends it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { toLineProtocol } from '../../src/lib/audit-destinations/influxdb/line-protocol.js';
import {
  buildAuditInfluxPointModel,
  influxMappingOptions,
  type InfluxPointModel,
} from '../../src/lib/audit-destinations/influxdb/point-model.js';
import { createV1PointWriter } from '../../src/lib/audit-destinations/influxdb/v1.js';
import { createV2PointWriter } from '../../src/lib/audit-destinations/influxdb/v2.js';
import type { InfluxPointWriter } from '../../src/lib/audit-destinations/influxdb/point-writer.js';
import { InfluxWriteError } from '../../src/lib/audit-destinations/influxdb/write-errors.js';
import { createInfluxPointWriter } from '../../src/lib/audit-destinations/influxdb/writers.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import type { InfluxdbConfig } from '../../src/lib/config/schema.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { makeAuditRecord } from '../support/audit-records.js';
import {
  startFaultProxy,
  type FaultProxy,
  type InjectedAnswer,
  type ProxiedRequest,
} from '../support/fault-proxy.js';
import { startInfluxEmulator, type InfluxEmulator } from '../support/influx-emulator/index.js';
import { typeConflictText } from '../support/influx-type-conflict.js';
import { quoteIdentifier, startInfluxd, type InfluxdServer, type Row } from '../support/influxd.js';
import { createLocalhostCertificate } from '../support/tls.js';

const TOKEN = 'audit-test-token';
const FW = '\uFF3C';

type Version = 1 | 2 | 3;
type Connection = { host?: string; port: number; protocol?: 'http' | 'https' };

/** A complete destination.influxdb block, as the config loader would produce it. */
function influxdbConfig(
  version: Version,
  connection: Connection,
  overrides: Partial<InfluxdbConfig> = {},
): InfluxdbConfig {
  return {
    host: '127.0.0.1',
    protocol: 'http',
    ...connection,
    version,
    maxBatchSize: 1000,
    writeFrequency: 0,
    measurementName: 'audit_event',
    auditEventSchemaVersion: '1',
    staticTags: [],
    maxBufferedPoints: 100000,
    maxStringFieldBytes: 65536,
    v1Config: {
      dbName: 'audit',
      retentionPolicy: { name: 'autogen', duration: 'INF' },
      auth: { enable: false, username: '', password: '' },
    },
    v2Config: {
      org: 'my-org',
      bucket: 'audit',
      description: 'audit events',
      token: TOKEN,
      retentionDuration: '0s',
    },
    v3Config: {
      database: 'audit',
      description: 'audit events',
      token: TOKEN,
      retentionDuration: '0s',
      writeTimeout: 10000,
    },
    ...overrides,
  };
}

function pointsFor(config: InfluxdbConfig, records: AuditRecord[]): InfluxPointModel[] {
  const mapping = influxMappingOptions(config);
  return records.map((record) => buildAuditInfluxPointModel(record, mapping));
}

/** What the sink hands a writer: each point's line. */
function linesOf(config: InfluxdbConfig, points: InfluxPointModel[]): string[] {
  return points.map((point) => toLineProtocol(point, { maxStringFieldBytes: config.maxStringFieldBytes }));
}

function linesFor(config: InfluxdbConfig, records: AuditRecord[]): string[] {
  return linesOf(config, pointsFor(config, records));
}

/** Every writer a test opens; the top-level suites close them after each test. */
const openWriters: InfluxPointWriter[] = [];

function opened<W extends InfluxPointWriter>(writer: W): W {
  openWriters.push(writer);
  return writer;
}

async function closeOpenWriters(): Promise<void> {
  await Promise.all(openWriters.splice(0).map((writer) => writer.close()));
}

function writerFor(config: InfluxdbConfig): InfluxPointWriter {
  return opened(createInfluxPointWriter(config, createSilentLogger()));
}

/** The InfluxWriteError a write rejects with (fails the test when it resolves). */
async function writeError(writer: InfluxPointWriter, lines: string[]): Promise<InfluxWriteError> {
  try {
    await writer.write(lines);
  } catch (error) {
    expect(error).to.be.instanceOf(InfluxWriteError);
    return error as InfluxWriteError;
  }
  throw new Error('the write succeeded');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let measurementCounter = 0;
/** Each test writes to its own measurement, so that tests never see each other's points. */
function freshMeasurement(): string {
  measurementCounter += 1;
  return `audit_it_${measurementCounter}`;
}

/** Where a version's points land and how to make a writer for it. */
interface Target {
  version: Version;
  /** The influxd database holding the points (v1 dbName, v2 bucket, v3 database). */
  db: string;
  config(overrides?: Partial<InfluxdbConfig>): InfluxdbConfig;
}

/**
 * The round trip every version must pass: write through the real client, read back from
 * influxd, compare with the point model.
 */
function describeRoundTrip(name: string, getInfluxd: () => InfluxdServer, getTarget: () => Target): void {
  describe(`${name}: what influxd stores`, () => {
    let target: Target;
    let config: InfluxdbConfig;
    let writer: InfluxPointWriter;

    beforeEach(() => {
      target = getTarget();
      config = target.config({ measurementName: freshMeasurement() });
      writer = writerFor(config);
    });

    const readBack = (): Promise<Row[]> =>
      getInfluxd().query(target.db, `SELECT * FROM ${quoteIdentifier(config.measurementName)}`, {
        epoch: 'ns',
      });

    async function writeAndReadBack(
      records: AuditRecord[],
    ): Promise<{ points: InfluxPointModel[]; rows: Row[] }> {
      const points = pointsFor(config, records);
      await writer.write(linesOf(config, points));
      return { points, rows: await readBack() };
    }

    it('stores unicode, commas, spaces, =, quotes and ordinary backslashes exactly, in tags and string fields', async () => {
      const record = makeAuditRecord({
        user: 'CORP\\anna lind, "boss"=yes',
        appName: 'Försäljning, 2026 = "Q4" 📈 日本 ＼',
        objectType: "bar\\'chart\\x",
        sheetName: 'Say "hi", a=b \\ back\\slash \\\' end\\',
        objectId: 'obj\\"q',
        objectData: JSON.stringify({ text: 'line1\nline2\t"q"\\', path: 'C:\\x' }),
        selectionDetails: JSON.stringify([{ qField: 'Region', qSelected: 'Nordics, Baltics' }]),
        screenshotSavedPaths: JSON.stringify(['C:\\shots\\a b.png', '/tmp/ü.png']),
        screenshotUrl: 'https://q.example/x.png?a=1&b=2,3',
      });
      const { points, rows } = await writeAndReadBack([record]);
      expect(rows).to.have.length(1);
      const [point] = points;
      for (const [key, value] of Object.entries({ ...point.tags, ...point.fields })) {
        expect(rows[0][key], key).to.equal(value);
      }
      expect(rows[0].time).to.equal(point.timestampNs);
    });

    it('stores the documented substitutions for newlines, tabs and uncarriable tag backslashes, refusing nothing', async () => {
      const record = makeAuditRecord({
        appName: 'line1\nline2\r\n\ttab',
        user: 'CORP\\',
        objectType: 'a\\ b\\,c\\=d',
        sheetName: 'x\r\ny\tz',
        objectId: 'keep\\ this\\',
      });
      const { rows } = await writeAndReadBack([record]);
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({
        appName: 'line1 line2   tab',
        user: `CORP${FW}`,
        objectType: `a${FW} b${FW},c${FW}=d`,
        sheetName: 'x  y z',
        objectId: 'keep\\ this\\',
      });
    });

    it('keeps two events with identical tags in the same millisecond as two points', async () => {
      const timestampMs = Date.parse('2026-10-14T08:15:42.512Z');
      // Fixed eventIds: their offsets within the millisecond are known to differ.
      const { rows } = await writeAndReadBack([
        makeAuditRecord({ timestampMs, eventId: '3f2b8c1e-7a4d-4e9b-9c21-5d8e0f6a7b10' }),
        makeAuditRecord({ timestampMs, eventId: 'c9d0e1f2-a3b4-4c5d-8e6f-708192a3b4c5' }),
      ]);
      expect(rows).to.have.length(2);
      const times = rows.map((row) => row.time as bigint);
      expect(times[0]).to.not.equal(times[1]);
      for (const time of times) expect(time / 1_000_000n).to.equal(BigInt(timestampMs));
    });

    it('overwrites a replayed event instead of duplicating it', async () => {
      const record = makeAuditRecord();
      await writeAndReadBack([record]);
      const { rows } = await writeAndReadBack([record]);
      expect(rows).to.have.length(1);
    });

    it('stores numbers as floats: a whole duration first, then a fractional one, exactly', async () => {
      const timestampMs = Date.parse('2026-10-14T08:15:42.512Z');
      await writeAndReadBack([makeAuditRecord({ timestampMs, durationMs: 30608 })]);
      const { rows } = await writeAndReadBack([
        makeAuditRecord({ timestampMs: timestampMs + 1, durationMs: 4210.5 }),
      ]);
      expect(rows.map((row) => row.durationMs)).to.have.members([30608, 4210.5]);
      const fieldTypes = await getInfluxd().query(
        target.db,
        `SHOW FIELD KEYS FROM ${quoteIdentifier(config.measurementName)}`,
      );
      const typeOf = (key: string) => fieldTypes.find((row) => row.fieldKey === key)?.fieldType;
      expect([typeOf('durationMs'), typeOf('dataStateId')]).to.deep.equal(['float', 'float']);
    });

    it('cuts a string field over maxStringFieldBytes at a character boundary and names it', async () => {
      config = target.config({ measurementName: config.measurementName, maxStringFieldBytes: 1024 });
      const { rows } = await writeAndReadBack([makeAuditRecord({ objectData: 'é'.repeat(1000) })]);
      expect(rows[0]).to.include({ objectData: 'é'.repeat(512), truncatedFields: 'objectData' });
    });

    it('writes a large batch whole', async () => {
      // One millisecond apart: within one millisecond, points of one series share 1e6 offsets,
      // and 2500 of them would be expected to collide about three times (birthday bound).
      const start = Date.parse('2026-10-14T08:00:00.000Z');
      const records = Array.from({ length: 2500 }, (_, i) => makeAuditRecord({ timestampMs: start + i }));
      const { rows } = await writeAndReadBack(records);
      expect(rows).to.have.length(2500);
    });

    it('classifies a field type conflict as rejected, with the server message', async () => {
      const [point] = pointsFor(config, [makeAuditRecord()]);
      await writer.write(linesOf(config, [point]));
      const conflicting = {
        ...point,
        timestampNs: point.timestampNs + 1n,
        fields: { ...point.fields, durationMs: 'slow' },
      };
      const error = await writeError(writer, linesOf(config, [conflicting]));
      expect(error.kind).to.equal('rejected');
      expect(error.details.serverMessage).to.include(typeConflictText(target.version, 'durationMs'));
    });
  });
}

/** A token the v2 emulator accepts for reading only: its writes answer 403, as 2.x's do. */
const READ_ONLY_TOKEN = 'audit-read-only-token';
/** The request body limit of the servers that answer 413 here. */
const SMALL_BODY_BYTES = 16384;

/** The destination block of `version` for database/bucket `db` (the other blocks as defaults). */
function versionBlock(version: Version, db: string): Partial<InfluxdbConfig> {
  const defaults = influxdbConfig(version, { port: 0 });
  switch (version) {
    case 1:
      return { v1Config: { ...defaults.v1Config!, dbName: db } };
    case 2:
      return { v2Config: { ...defaults.v2Config!, bucket: db } };
    case 3:
      return { v3Config: { ...defaults.v3Config!, database: db } };
  }
}

/** Points of a measurement stored in influxd. */
async function storedCount(server: InfluxdServer, db: string, measurement: string): Promise<number> {
  const rows = await server.query(db, `SELECT count("durationMs") AS n FROM ${quoteIdentifier(measurement)}`);
  return Number(rows[0]?.n ?? 0);
}

/** The error text an answer carried, as each API shapes it: `{"error"}` (1.x) or `{"code","message"}`. */
function answeredMessage(request: ProxiedRequest | undefined): string {
  const body = JSON.parse(request?.answerBody ?? '') as { error?: string; message?: string };
  return body.message ?? body.error ?? '';
}

/** An error body in the shape of the write endpoint each writer uses (3.x: its v2-compatible one). */
function errorBody(version: Version, code: string, message: string): object {
  return version === 1 ? { error: message } : { code, message };
}

async function createBucket(emulator: InfluxEmulator, name: string): Promise<void> {
  const response = await fetch(`${emulator.url}/api/v2/buckets`, {
    method: 'POST',
    headers: { authorization: `Token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ orgID: emulator.orgId('my-org'), name }),
  });
  expect(response.status).to.equal(201);
}

describe('InfluxDB writers against real servers', function () {
  this.timeout(120_000);
  let influxd: InfluxdServer;
  /** auth-enabled: its 401s and 403s are influxd's own. */
  let secured: InfluxdServer;
  /** max-body-size 16 KiB: its 413s are influxd's own. */
  let small: InfluxdServer;

  before(async () => {
    [influxd, secured, small] = await Promise.all([
      startInfluxd(),
      startInfluxd({ authEnabled: true }),
      startInfluxd({ maxBodySize: SMALL_BODY_BYTES }),
    ]);
  });
  after(async () => {
    await Promise.all([influxd?.stop(), secured?.stop(), small?.stop()]);
  });
  afterEach(closeOpenWriters);

  describe('v1 (influx package, real influxd)', () => {
    const db = 'audit_v1';
    before(async () => {
      await influxd.ddl(`CREATE DATABASE ${quoteIdentifier(db)}`);
    });
    const target = (): Target => ({
      version: 1,
      db,
      config: (overrides = {}) =>
        influxdbConfig(1, { port: influxd.port }, { ...versionBlock(1, db), ...overrides }),
    });
    describeRoundTrip('v1', () => influxd, target);

    describe('v1: errors', () => {
      const point = () => linesFor(target().config(), [makeAuditRecord()]);

      it("classifies a missing retention policy (500) as transient, with influxd's status and message", async () => {
        const v1Config = {
          ...target().config().v1Config!,
          retentionPolicy: { name: 'no_such_rp', duration: 'INF' },
        };
        const error = await writeError(
          writerFor(influxdbConfig(1, { port: influxd.port }, { v1Config })),
          point(),
        );
        expect(error.kind).to.equal('transient');
        expect(error.details).to.deep.equal({
          status: 500,
          serverMessage: 'retention policy not found: no_such_rp',
        });
      });

      it('classifies a server that does not answer in time as transient, and writes again once it does', async () => {
        const writer = opened(
          createV1PointWriter({
            host: '127.0.0.1',
            port: influxd.port,
            protocol: 'http',
            database: db,
            retentionPolicy: 'autogen',
            timeoutMs: 500,
          }),
        );
        await influxd.pause();
        try {
          expect((await writeError(writer, point())).kind).to.equal('transient');
        } finally {
          influxd.resume();
        }
        await writer.write(point());
      });

      it('classifies a refused line holding a control character as rejected, with the server message', async () => {
        // influxd quotes the refused line in its X-Influxdb-Error header; with a control character in
        // it node's strict parser dropped the whole answer, and the point was retried forever.
        const line = 'audit_event,user=a\u0001b\u001bc\u007fd eventId="e1" -99999999999999999999';
        const error = await writeError(writerFor(target().config()), [line]);
        expect(error.kind).to.equal('rejected');
        expect(error.details.status).to.equal(400);
        expect(error.details.serverMessage).to.include('value out of range');
      });

      it('classifies a refused connection as transient, every time (the host is never taken out of the pool)', async () => {
        const writer = writerFor(influxdbConfig(1, { port: await closedPort() }));
        for (let attempt = 0; attempt < 2; attempt++) {
          const error = await writeError(writer, point());
          expect(error.kind).to.equal('transient');
          expect(error.message).to.include('ECONNREFUSED');
        }
      });
    });
  });

  describe('v2 (@influxdata/influxdb-client, emulator)', () => {
    const bucket = 'audit_v2';
    let emulator: InfluxEmulator;
    before(async () => {
      emulator = await startInfluxEmulator({ version: 2, influxd, token: TOKEN });
      await createBucket(emulator, bucket);
    });
    after(async () => {
      await emulator?.stop();
    });
    const target = (): Target => ({
      version: 2,
      db: bucket,
      config: (overrides = {}) =>
        influxdbConfig(2, { port: emulator.port }, { ...versionBlock(2, bucket), ...overrides }),
    });
    describeRoundTrip('v2', () => influxd, target);
  });

  describe('v3 (@influxdata/influxdb3-client, emulator)', () => {
    const database = 'audit_v3';
    let emulator: InfluxEmulator;
    before(async () => {
      emulator = await startInfluxEmulator({ version: 3, influxd, token: TOKEN, databases: [database] });
    });
    after(async () => {
      await emulator?.stop();
    });
    const target = (): Target => ({
      version: 3,
      db: database,
      config: (overrides = {}) =>
        influxdbConfig(3, { port: emulator.port }, { ...versionBlock(3, database), ...overrides }),
    });
    describeRoundTrip('v3', () => influxd, target);

    it('v3: writes the IDs as tags by default, and the eventId field under its own name', async () => {
      const config = target().config({ measurementName: freshMeasurement() });
      await writerFor(config).write(linesFor(config, [makeAuditRecord()]));
      const tagKeys = await influxd.query(
        database,
        `SHOW TAG KEYS FROM ${quoteIdentifier(config.measurementName)}`,
      );
      expect(tagKeys.map((row) => row.tagKey)).to.include.members([
        'eventId',
        'correlationId',
        'selectionTxnId',
      ]);
      const fieldKeys = await influxd.query(
        database,
        `SHOW FIELD KEYS FROM ${quoteIdentifier(config.measurementName)}`,
      );
      expect(fieldKeys.map((row) => row.fieldKey))
        .to.include('eventIdField')
        .and.not.include('eventId');
    });
  });

  describe('on the wire, through a recording fault proxy', () => {
    /** Where each version's points land in influxd (the v2 bucket and v3 database of that name). */
    const WIRE_DB: Record<Version, string> = { 1: 'audit_v1_wire', 2: 'audit_v2_wire', 3: 'audit_v3_wire' };
    let v2: InfluxEmulator;
    let v3: InfluxEmulator;
    /** Per test, in front of influxd (v1) and the emulators (v2, v3), so that each test sees only its own requests. */
    const proxies = {} as Record<Version, FaultProxy>;
    /** In front of `secured`. */
    let securedProxy: FaultProxy;

    before(async () => {
      await influxd.ddl(`CREATE DATABASE ${quoteIdentifier(WIRE_DB[1])}`);
      v2 = await startInfluxEmulator({
        version: 2,
        influxd,
        token: TOKEN,
        readOnlyTokens: [READ_ONLY_TOKEN],
      });
      await createBucket(v2, WIRE_DB[2]);
      v3 = await startInfluxEmulator({ version: 3, influxd, token: TOKEN, databases: [WIRE_DB[3]] });
    });
    after(async () => {
      await Promise.all([v2?.stop(), v3?.stop()]);
    });
    beforeEach(async () => {
      [proxies[1], proxies[2], proxies[3], securedProxy] = await Promise.all(
        [influxd.port, v2.port, v3.port, secured.port].map((port) => startFaultProxy(port)),
      );
    });
    afterEach(async () => {
      await closeOpenWriters();
      await Promise.all([...Object.values(proxies), securedProxy].map((proxy) => proxy.stop()));
    });

    /** The destination block of `version` through its proxy, into its wire database, a fresh measurement. */
    const wireConfig = (version: Version, overrides: Partial<InfluxdbConfig> = {}) =>
      influxdbConfig(
        version,
        { port: proxies[version].port },
        { ...versionBlock(version, WIRE_DB[version]), measurementName: freshMeasurement(), ...overrides },
      );
    const stored = (version: Version, config: InfluxdbConfig) =>
      storedCount(influxd, WIRE_DB[version], config.measurementName);
    const writes = (proxy: FaultProxy) => proxy.requests.filter((request) => request.method === 'POST');
    /**
     * More events than influxdb-client's WriteApi puts in one request (1000), one millisecond
     * apart (so that none overwrites another), with characters to escape.
     */
    const BATCH = 1500;
    const records = () => {
      const start = Date.parse('2026-10-14T08:00:00.000Z');
      return Array.from({ length: BATCH }, (_, i) =>
        makeAuditRecord({ timestampMs: start + i, sheetName: `sheet "${i}", a=b \\ ü` }),
      );
    };

    describe('what each client sends', () => {
      it('v1: one POST /write?db&rp&precision=n with Basic auth, carrying exactly the lines it is given, all stored', async () => {
        for (const statement of [
          'CREATE DATABASE "audit db"',
          'CREATE RETENTION POLICY "one year" ON "audit db" DURATION 52w REPLICATION 1',
          `CREATE USER "writer" WITH PASSWORD 'p:w'`,
          'GRANT WRITE ON "audit db" TO "writer"',
        ])
          await secured.ddl(statement);
        const config = influxdbConfig(
          1,
          { port: securedProxy.port },
          {
            measurementName: freshMeasurement(),
            v1Config: {
              dbName: 'audit db',
              retentionPolicy: { name: 'one year', duration: '52w' },
              auth: { enable: true, username: 'writer', password: 'p:w' },
            },
          },
        );
        const lines = linesFor(config, records());
        await writerFor(config).write(lines);

        expect(writes(securedProxy)).to.have.length(1);
        const [request] = writes(securedProxy);
        expect([request.path, request.status]).to.deep.equal(['/write', 204]);
        expect(request.query).to.deep.equal({ db: 'audit db', rp: 'one year', precision: 'n' });
        expect(request.headers.authorization).to.equal(
          `Basic ${Buffer.from('writer:p:w').toString('base64')}`,
        );
        expect(request.body).to.equal(lines.join('\n'));
        const rows = await secured.query(
          'audit db',
          `SELECT count("durationMs") AS n FROM "one year".${quoteIdentifier(config.measurementName)}`,
        );
        expect(rows[0].n).to.equal(BATCH);
      });

      it("v1: keeps a \\' exactly on the wire and in influxd (the influx package's own escaping would double the backslash)", async () => {
        const config = wireConfig(1);
        const lines = linesFor(config, [makeAuditRecord({ appName: "O\\'Brien", sheetName: "it\\'s" })]);
        await writerFor(config).write(lines);

        const [request] = writes(proxies[1]);
        expect(request.body).to.equal(lines.join('\n'));
        expect(request.body).to.include("appName=O\\'Brien").and.include('sheetName="it\\\\\'s"');
        const [row] = await influxd.query(
          WIRE_DB[1],
          `SELECT * FROM ${quoteIdentifier(config.measurementName)}`,
        );
        expect(row).to.include({ appName: "O\\'Brien", sheetName: "it\\'s" });
      });

      it('v2: one POST /api/v2/write?org&bucket&precision=ns with the token, for any batch size, all stored', async () => {
        const config = wireConfig(2);
        const lines = linesFor(config, records());
        await writerFor(config).write(lines);

        expect(writes(proxies[2])).to.have.length(1);
        const [request] = writes(proxies[2]);
        expect([request.path, request.status]).to.deep.equal(['/api/v2/write', 204]);
        expect(request.query).to.deep.equal({ org: 'my-org', bucket: WIRE_DB[2], precision: 'ns' });
        expect(request.headers.authorization).to.equal(`Token ${TOKEN}`);
        expect(request.headers['content-type']).to.equal('text/plain; charset=utf-8');
        expect(request.body).to.equal(lines.join('\n'));
        expect(await stored(2, config)).to.equal(BATCH);
      });

      it('v3: one POST /api/v2/write?bucket&precision=ns with the token, never no_sync, all stored', async () => {
        const config = wireConfig(3);
        const lines = linesFor(config, records());
        await writerFor(config).write(lines);

        expect(writes(proxies[3])).to.have.length(1);
        const [request] = writes(proxies[3]);
        expect([request.path, request.status]).to.deep.equal(['/api/v2/write', 204]);
        expect(request.query).to.deep.equal({ bucket: WIRE_DB[3], precision: 'ns' });
        expect(request.headers.authorization).to.equal(`Token ${TOKEN}`);
        expect(request.body).to.equal(lines.join('\n'));
        expect(await stored(3, config)).to.equal(BATCH);
      });

      it('sends nothing for an empty batch (InfluxDB 3 refuses an empty write)', async () => {
        for (const version of [1, 2, 3] as const) await writerFor(wireConfig(version)).write([]);
        for (const version of [1, 2, 3] as const)
          expect(proxies[version].requests, `v${version}`).to.deep.equal([]);
      });
    });

    for (const version of [1, 2, 3] as const) {
      describe(`v${version}: classification of answers`, () => {
        const proxy = () => proxies[version];
        const lastAnswer = () => writes(proxy()).at(-1);
        const writeOne = (config: InfluxdbConfig = wireConfig(version)) =>
          writeError(writerFor(config), linesFor(config, [makeAuditRecord()]));
        /** The error of one write that the proxy answers with `answer`. */
        const injected = (answer: InjectedAnswer) => {
          proxy().failNextWrites(1, answer);
          return writeOne();
        };
        /** The error of a write that meets `fault`, after which the same write is stored. */
        const transientThenStored = async (
          fault: (proxy: FaultProxy) => void,
          writer?: InfluxPointWriter,
        ) => {
          const config = wireConfig(version);
          const lines = linesFor(config, [makeAuditRecord()]);
          const using = writer ?? writerFor(config);
          fault(proxy());
          const error = await writeError(using, lines);
          await using.write(lines);
          expect(await stored(version, config)).to.equal(1);
          return error;
        };

        it('429 with Retry-After: transient, waiting that many seconds (injected: no OSS server answers a write with 429)', async () => {
          const error = await transientThenStored((faulty) =>
            faulty.failNextWrites(1, {
              status: 429,
              retryAfterSeconds: 3,
              body: errorBody(version, 'too many requests', 'too many requests'),
            }),
          );
          expect(error.kind).to.equal('transient');
          expect(error.details).to.deep.include({ status: 429, retryAfterMs: 3000 });
        });

        it("413: too-large (the server's own: a body over its limit)", async () => {
          const lines = (config: InfluxdbConfig) =>
            linesFor(
              config,
              Array.from({ length: 40 }, () => makeAuditRecord()),
            );
          let error: InfluxWriteError;
          if (version === 1) {
            await small.ddl(`CREATE DATABASE ${quoteIdentifier(WIRE_DB[1])}`);
            const config = influxdbConfig(1, { port: small.port }, versionBlock(1, WIRE_DB[1]));
            expect(lines(config).join('\n').length).to.be.above(SMALL_BODY_BYTES);
            error = await writeError(writerFor(config), lines(config));
            expect(await storedCount(small, WIRE_DB[1], config.measurementName)).to.equal(0);
          } else {
            const limited = await startInfluxEmulator({
              version,
              influxd,
              token: TOKEN,
              databases: version === 3 ? [WIRE_DB[3]] : [],
              maxRequestBytes: SMALL_BODY_BYTES,
            });
            try {
              if (version === 2) await createBucket(limited, WIRE_DB[2]);
              const config = influxdbConfig(
                version,
                { port: limited.port },
                {
                  ...versionBlock(version, WIRE_DB[version]),
                  measurementName: freshMeasurement(),
                },
              );
              error = await writeError(writerFor(config), lines(config));
              expect(await stored(version, config)).to.equal(0);
            } finally {
              await limited.stop();
            }
          }
          expect(error.kind).to.equal('too-large');
          expect(error.details.status).to.equal(413);
        });

        it('400 for a line that does not parse: rejected, with the server message', async () => {
          const config = wireConfig(version);
          const error = await writeError(writerFor(config), [`${config.measurementName} durationMs= 1`]);
          expect(error.kind).to.equal('rejected');
          expect(error.details.status).to.equal(400);
          expect(error.details.serverMessage).to.equal(answeredMessage(lastAnswer())).and.not.equal('');
          expect(await stored(version, config)).to.equal(0);
        });

        it(`422: rejected, with the server message (${version === 2 ? "2.x's answer to a field type conflict" : 'injected: this server answers a write 400, never 422'})`, async () => {
          let error: InfluxWriteError;
          if (version === 2) {
            const config = wireConfig(2);
            const writer = writerFor(config);
            await writer.write([`${config.measurementName} durationMs=1.5 1`]);
            error = await writeError(writer, [`${config.measurementName} durationMs="slow" 2`]);
          } else {
            error = await injected({
              status: 422,
              body: errorBody(
                version,
                'unprocessable entity',
                'partial write: points beyond retention policy',
              ),
            });
          }
          expect(error.kind).to.equal('rejected');
          expect(error.details.status).to.equal(422);
          expect(error.details.serverMessage).to.equal(answeredMessage(lastAnswer())).and.not.equal('');
        });

        it('400 quoting a refused line that holds the text of a request-level refusal: rejected', async () => {
          const config = wireConfig(version);
          const line = `${config.measurementName},appName=a sheetName="cannot write to soft-deleted database x" notatime`;
          const error = await writeError(writerFor(config), [line]);
          expect(error.kind).to.equal('rejected');
          expect(error.details.status).to.equal(400);
          expect(error.details.serverMessage).to.include('cannot write to soft-deleted database x');
        });

        if (version === 3) {
          it('400 with the request-level texts of InfluxDB 3: configuration, and no database is created', async () => {
            const full = await startInfluxEmulator({
              version: 3,
              influxd,
              token: TOKEN,
              databases: ['limit_a', 'limit_b', 'limit_c', 'limit_d', 'limit_e'],
            });
            try {
              const on = (port: number, v3Config: Partial<NonNullable<InfluxdbConfig['v3Config']>>) =>
                influxdbConfig(3, { port }, { v3Config: { ...versionBlock(3, 'x').v3Config!, ...v3Config } });
              for (const config of [
                on(full.port, { database: 'limit_f' }), // the 6th database
                on(proxies[3].port, { database: WIRE_DB[3], token: `${TOKEN} with spaces` }), // a malformed header
                on(proxies[3].port, { database: '_audit' }), // an invalid database name
              ]) {
                const error = await writeError(writerFor(config), linesFor(config, [makeAuditRecord()]));
                expect([error.kind, error.details.status], config.v3Config!.database).to.deep.equal([
                  'configuration',
                  400,
                ]);
              }
              // Injected: InfluxDB 3 renames a database it deletes, so a write meets this only in a race.
              const deleted = await injected({
                status: 400,
                body: {
                  code: 'invalid',
                  message:
                    "write buffer error: cannot write to soft-deleted database 'audit' - it is marked for deletion",
                },
              });
              expect(deleted.kind).to.equal('configuration');
              const databases = (await influxd.query('', 'SHOW DATABASES')).map((row) => row.name);
              expect(databases).to.not.include.members(['limit_f', '_audit']);
            } finally {
              await full.stop();
            }
          });
        } else {
          it('400 with the request-level texts of InfluxDB 3: rejected (injected: only InfluxDB 3 sends them)', async () => {
            for (const text of [
              "cannot write to soft-deleted database 'audit' - it is marked for deletion",
              'write buffer error: catalog update error: Adding a new database would exceed limit of 5 databases',
              "Authorization header was malformed, the request was not in the form of 'Authorization: <auth-scheme> <token>', supported auth-schemes are Bearer, Token and Basic",
              'db name cannot be empty',
            ]) {
              const error = await injected({ status: 400, body: errorBody(version, 'invalid', text) });
              expect(error.kind, text).to.equal('rejected');
            }
          });
        }

        it(`401, 403 and 404: configuration (${version === 3 ? '403 and 404 injected: InfluxDB 3 Core tokens may all write, and it creates a missing database' : "the server's own"})`, async () => {
          const answers: Array<[number, Promise<InfluxWriteError>]> = [];
          const attempt = (status: number, config: InfluxdbConfig) =>
            answers.push([status, writeOne(config)]);
          if (version === 1) {
            await secured.ddl(`CREATE DATABASE ${quoteIdentifier(WIRE_DB[1])}`);
            await secured.ddl(`CREATE USER "reader" WITH PASSWORD 'r'`);
            const securedAs = (auth: { enable: boolean; username: string; password: string }) =>
              influxdbConfig(
                1,
                { port: securedProxy.port },
                {
                  v1Config: { ...versionBlock(1, WIRE_DB[1]).v1Config!, auth },
                },
              );
            attempt(401, securedAs({ enable: false, username: '', password: '' }));
            attempt(401, securedAs({ enable: true, username: 'admin', password: 'wrong' }));
            attempt(403, securedAs({ enable: true, username: 'reader', password: 'r' })); // no privilege
            attempt(404, wireConfig(1, versionBlock(1, 'no_such_db')));
          } else if (version === 2) {
            const v2Config = (changes: object) => ({
              v2Config: { ...versionBlock(2, WIRE_DB[2]).v2Config!, ...changes },
            });
            attempt(401, wireConfig(2, v2Config({ token: 'wrong' })));
            attempt(403, wireConfig(2, v2Config({ token: READ_ONLY_TOKEN })));
            attempt(404, wireConfig(2, v2Config({ bucket: 'no_such_bucket' })));
            attempt(404, wireConfig(2, v2Config({ org: 'no-such-org' })));
          } else {
            attempt(
              401,
              wireConfig(3, { v3Config: { ...versionBlock(3, WIRE_DB[3]).v3Config!, token: 'wrong' } }),
            );
          }
          for (const [status, error] of answers) {
            expect([(await error).kind, (await error).details.status]).to.deep.equal([
              'configuration',
              status,
            ]);
          }
          if (version === 3) {
            for (const status of [403, 404]) {
              const error = await injected({
                status,
                body: errorBody(3, status === 403 ? 'forbidden' : 'not found', 'no'),
              });
              expect([error.kind, error.details.status]).to.deep.equal(['configuration', status]);
            }
          }
        });

        it('503 with Retry-After: transient, waiting that many seconds, with the server message (injected)', async () => {
          const error = await transientThenStored((faulty) =>
            faulty.failNextWrites(1, {
              status: 503,
              retryAfterSeconds: 7,
              body: errorBody(version, 'unavailable', 'busy'),
            }),
          );
          expect(error.kind).to.equal('transient');
          expect(error.details).to.deep.equal({ status: 503, retryAfterMs: 7000, serverMessage: 'busy' });
        });

        it('500 without a body: transient, with its status (injected)', async () => {
          const error = await transientThenStored((faulty) => faulty.failNextWrites(1, { status: 500 }));
          expect(error.kind).to.equal('transient');
          expect(error.details).to.deep.equal({ status: 500 });
        });

        it('a dropped connection: transient, and the next write goes through (injected)', async () => {
          const error = await transientThenStored((faulty) => faulty.dropNextWrites(1));
          expect(error.kind).to.equal('transient');
          expect(lastAnswer()?.outcome).to.equal('forwarded');
          expect(proxy().requests.filter((request) => request.outcome === 'dropped')).to.have.length(1);
        });

        if (version !== 1) {
          // v1: influxd itself paused does that (v1: errors).
          it('a stalled answer: transient once the request timeout has passed, and the next write goes through', async () => {
            const config = wireConfig(version);
            const impatient =
              version === 2
                ? opened(
                    createV2PointWriter({
                      url: proxies[2].url,
                      token: TOKEN,
                      org: 'my-org',
                      bucket: WIRE_DB[2],
                      timeoutMs: 300,
                    }),
                  )
                : writerFor(wireConfig(3, { v3Config: { ...config.v3Config!, writeTimeout: 300 } }));
            const error = await transientThenStored((faulty) => faulty.stallNextWrites(1), impatient);
            expect(error.kind).to.equal('transient');
            if (version === 3) expect(error.message).to.include('timed out');
          });
        }
      });
    }

    describe('over https (a TLS proxy in front of each server)', () => {
      let dir: string;
      let cert: Buffer;
      let key: Buffer;
      let previousCa: unknown;

      before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), 'influx-writers-tls-'));
        const { certFile, keyFile } = createLocalhostCertificate(dir, 'server');
        [cert, key] = [readFileSync(certFile), readFileSync(keyFile)];
        // All three clients use the global https agent: trusting the test certificate there keeps
        // certificate verification on.
        previousCa = https.globalAgent.options.ca;
        https.globalAgent.options.ca = cert;
      });
      after(() => {
        https.globalAgent.options.ca = previousCa as typeof https.globalAgent.options.ca;
        rmSync(dir, { recursive: true, force: true });
      });

      for (const version of [1, 2, 3] as const) {
        it(`v${version}: protocol https writes over TLS, and the point is stored`, async () => {
          const server = [undefined, influxd.port, v2.port, v3.port][version]!;
          const tlsProxy = await startFaultProxy(server, { tls: { key, cert } });
          try {
            const config = influxdbConfig(
              version,
              { port: tlsProxy.port, protocol: 'https' },
              { ...versionBlock(version, WIRE_DB[version]), measurementName: freshMeasurement() },
            );
            await writerFor(config).write(linesFor(config, [makeAuditRecord()]));
            expect(writes(tlsProxy).map((request) => request.status)).to.deep.equal([204]);
            expect(await stored(version, config)).to.equal(1);
          } finally {
            await closeOpenWriters();
            await tlsProxy.stop();
          }
        });
      }
    });
  });
});
