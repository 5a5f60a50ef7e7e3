/**
 * The InfluxDB v1, v2 and v3 writers through their real client packages: v1 against a real
 * influxd 1.x, v2 and v3 against the emulator that stores into that influxd (TESTING.md).
 * What influxd stored is read back and compared value by value. A scripted HTTP(S) server
 * shows what each client puts on the wire and how each answer is classified.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { toLineProtocol } from '../../src/lib/audit-destinations/influxdb/line-protocol.js';
import {
  buildAuditInfluxPointModel,
  influxMappingOptions,
  type InfluxPointModel,
} from '../../src/lib/audit-destinations/influxdb/point-model.js';
import { createV1PointWriter } from '../../src/lib/audit-destinations/influxdb/v1.js';
import { createV2PointWriter } from '../../src/lib/audit-destinations/influxdb/v2.js';
import {
  createInfluxPointWriter,
  InfluxWriteError,
  type InfluxPointWriter,
} from '../../src/lib/audit-destinations/influxdb/writers.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import type { InfluxdbConfig } from '../../src/lib/config/schema.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { makeAuditRecord } from '../support/audit-records.js';
import { startInfluxEmulator, type InfluxEmulator } from '../support/influx-emulator.js';
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

/** How many write requests the emulator received for one write of 2500 points. */
async function requestsForOneLargeWrite(
  writer: InfluxPointWriter,
  config: InfluxdbConfig,
  emulator: InfluxEmulator,
): Promise<number> {
  const before = emulator.stats.writeRequests;
  await writer.write(linesFor(config, Array.from({ length: 2500 }, () => makeAuditRecord())));
  return emulator.stats.writeRequests - before;
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
        screenshotSavedPaths: ['C:\\shots\\a b.png', '/tmp/ü.png'],
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
      expect(error.details.serverMessage).to.include('field type conflict');
    });
  });
}

describe('InfluxDB writers against real servers', function () {
  this.timeout(120_000);
  let influxd: InfluxdServer;

  before(async () => {
    influxd = await startInfluxd();
  });
  after(async () => {
    await influxd?.stop();
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
        influxdbConfig(
          1,
          { port: influxd.port },
          {
            v1Config: {
              dbName: db,
              retentionPolicy: { name: 'autogen', duration: 'INF' },
              auth: { enable: false, username: '', password: '' },
            },
            ...overrides,
          },
        ),
    });
    describeRoundTrip('v1', () => influxd, target);

    describe('v1: errors', () => {
      const v1Config = (dbName: string, rp = 'autogen') => ({
        dbName,
        retentionPolicy: { name: rp, duration: 'INF' },
        auth: { enable: false, username: '', password: '' },
      });
      const point = () => linesFor(target().config(), [makeAuditRecord()]);
      /** The error of one write into database `dbName`, retention policy `rp`. */
      const writeErrorInto = (dbName: string, rp?: string) =>
        writeError(
          writerFor(influxdbConfig(1, { port: influxd.port }, { v1Config: v1Config(dbName, rp) })),
          point(),
        );

      it('classifies a missing database as configuration (404)', async () => {
        const error = await writeErrorInto('no_such_db');
        expect(error.kind).to.equal('configuration');
        expect(error.details).to.deep.include({
          status: 404,
          serverMessage: 'database not found: "no_such_db"',
        });
      });

      it("classifies a missing retention policy (500) as transient, with influxd's status and message", async () => {
        const error = await writeErrorInto(db, 'no_such_rp');
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
        influxd.pause();
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

    describe('v1: authentication (influxd with auth-enabled)', () => {
      let secured: InfluxdServer;
      before(async () => {
        secured = await startInfluxd({ authEnabled: true });
        await secured.ddl(`CREATE DATABASE ${quoteIdentifier(db)}`);
      });
      after(async () => {
        await secured?.stop();
      });

      const writerWith = (auth: { enable: boolean; username: string; password: string }) =>
        writerFor(
          influxdbConfig(
            1,
            { port: secured.port },
            { v1Config: { dbName: db, retentionPolicy: { name: 'autogen', duration: 'INF' }, auth } },
          ),
        );
      const points = () => linesFor(target().config(), [makeAuditRecord()]);

      it('classifies missing and wrong credentials as configuration (401)', async () => {
        const { username } = secured.credentials!;
        for (const auth of [
          { enable: false, username: '', password: '' },
          { enable: true, username, password: 'wrong' },
        ]) {
          const error = await writeError(writerWith(auth), points());
          expect(error.kind).to.equal('configuration');
          expect(error.details.status).to.equal(401);
        }
      });

      it('writes with the configured username and password', async () => {
        await writerWith({ enable: true, ...secured.credentials! }).write(points());
        const rows = await secured.query(db, 'SELECT count(*) FROM "audit_event"');
        expect(rows[0]['count_eventId']).to.equal(1);
      });
    });
  });

  describe('v2 (@influxdata/influxdb-client, emulator)', () => {
    const bucket = 'audit_v2';
    let emulator: InfluxEmulator;
    before(async () => {
      emulator = await startInfluxEmulator({ version: 2, influxd, token: TOKEN });
      const response = await fetch(`${emulator.url}/api/v2/buckets`, {
        method: 'POST',
        headers: { authorization: `Token ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ orgID: emulator.orgId('my-org'), name: bucket }),
      });
      expect(response.status).to.equal(201);
    });
    after(async () => {
      await emulator?.stop();
    });
    const target = (): Target => ({
      version: 2,
      db: bucket,
      config: (overrides = {}) =>
        influxdbConfig(
          2,
          { port: emulator.port },
          {
            v2Config: {
              org: 'my-org',
              bucket,
              description: 'audit events',
              token: TOKEN,
              retentionDuration: '0s',
            },
            ...overrides,
          },
        ),
    });
    describeRoundTrip('v2', () => influxd, target);

    describe('v2: errors', () => {
      const v2Config = (changes: { org?: string; bucket?: string; token?: string }) => ({
        org: 'my-org',
        bucket,
        description: 'audit events',
        token: TOKEN,
        retentionDuration: '0s',
        ...changes,
      });
      const writerWith = (changes: { org?: string; bucket?: string; token?: string }) =>
        writerFor(influxdbConfig(2, { port: emulator.port }, { v2Config: v2Config(changes) }));
      const points = () => linesFor(target().config(), [makeAuditRecord()]);

      it('classifies a wrong token as configuration (401)', async () => {
        const error = await writeError(writerWith({ token: 'wrong' }), points());
        expect(error.kind).to.equal('configuration');
        expect(error.details.status).to.equal(401);
      });

      it('classifies a missing bucket and a missing org as configuration (404)', async () => {
        for (const changes of [{ bucket: 'no_such_bucket' }, { org: 'no-such-org' }]) {
          const error = await writeError(writerWith(changes), points());
          expect(error.kind, JSON.stringify(changes)).to.equal('configuration');
          expect(error.details.status).to.equal(404);
        }
      });

      it('reads Retry-After as seconds (the client itself reads milliseconds)', async () => {
        emulator.failNextWrites(1, { status: 503, retryAfterSeconds: 7 });
        const error = await writeError(writerWith({}), points());
        expect(error.kind).to.equal('transient');
        expect(error.details).to.deep.include({ status: 503, retryAfterMs: 7000 });
        emulator.failNextWrites(1, { status: 429, retryAfterSeconds: 2 });
        expect((await writeError(writerWith({}), points())).details).to.deep.include({
          status: 429,
          retryAfterMs: 2000,
        });
      });

      it('classifies a dropped connection and a timeout as transient, and writes again afterwards', async () => {
        emulator.dropNextWrites(1);
        expect((await writeError(writerWith({}), points())).kind).to.equal('transient');
        emulator.timeoutNextWrites(1);
        const impatient = opened(
          createV2PointWriter({ url: emulator.url, token: TOKEN, org: 'my-org', bucket, timeoutMs: 300 }),
        );
        expect((await writeError(impatient, points())).kind).to.equal('transient');
        await impatient.write(points());
      });

      it('sends one request per batch, whatever its size', async () => {
        expect(await requestsForOneLargeWrite(writerWith({}), target().config(), emulator)).to.equal(1);
      });
    });
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
    const v3Config = (changes: { database?: string; token?: string; writeTimeout?: number } = {}) => ({
      database,
      description: 'audit events',
      token: TOKEN,
      retentionDuration: '0s',
      writeTimeout: 10000,
      ...changes,
    });
    const target = (): Target => ({
      version: 3,
      db: database,
      config: (overrides = {}) =>
        influxdbConfig(3, { port: emulator.port }, { v3Config: v3Config(), ...overrides }),
    });
    describeRoundTrip('v3', () => influxd, target);

    describe('v3: errors and what the client sends', () => {
      const writerWith = (changes: { database?: string; token?: string; writeTimeout?: number }) =>
        writerFor(influxdbConfig(3, { port: emulator.port }, { v3Config: v3Config(changes) }));
      const points = () => linesFor(target().config(), [makeAuditRecord()]);

      it('writes the IDs as tags by default, and the eventId field under its own name', async () => {
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

      it('classifies a wrong token as configuration (401)', async () => {
        const error = await writeError(writerWith({ token: 'wrong' }), points());
        expect(error.kind).to.equal('configuration');
        expect(error.details).to.deep.include({
          status: 401,
          serverMessage: 'the request was not authenticated',
        });
      });

      it('classifies the database limit (400 on the v2-compatible endpoint) as configuration, not as refused points', async () => {
        for (const name of ['extra_a', 'extra_b', 'extra_c', 'extra_d'])
          await writerWith({ database: name }).write(points());
        const error = await writeError(writerWith({ database: 'one_too_many' }), points());
        expect(error.details.status).to.equal(400);
        expect(error.kind).to.equal('configuration');
      });

      it('reads Retry-After as seconds', async () => {
        emulator.failNextWrites(1, { status: 503, retryAfterSeconds: 7 });
        const error = await writeError(writerWith({}), points());
        expect(error.kind).to.equal('transient');
        expect(error.details).to.deep.include({ status: 503, retryAfterMs: 7000 });
      });

      it('classifies a dropped connection as transient', async () => {
        emulator.dropNextWrites(1);
        expect((await writeError(writerWith({}), points())).kind).to.equal('transient');
      });

      it('honours writeTimeout: an unanswered write is transient once it has passed', async () => {
        emulator.timeoutNextWrites(1);
        const error = await writeError(writerWith({ writeTimeout: 300 }), points());
        expect(error.kind).to.equal('transient');
        expect(error.message).to.include('timed out');
      });

      it('never asks for no_sync: every write goes to the all-or-nothing /api/v2/write, one request per batch', async () => {
        expect(await requestsForOneLargeWrite(writerWith({}), target().config(), emulator)).to.equal(1);
        expect(emulator.stats.noSyncRequests).to.equal(0);
        const writes = emulator.requests.filter(
          (request) => request.method === 'POST' && request.path.includes('write'),
        );
        expect(writes.map((request) => request.path)).to.satisfy((paths: string[]) =>
          paths.every((p) => p === '/api/v2/write'),
        );
        expect(writes.every((request) => request.query.no_sync === undefined)).to.equal(true);
      });
    });
  });
});

interface CapturedRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** The body with any gzip undone. */
  body: string;
}

interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

interface ScriptedServer {
  port: number;
  requests: CapturedRequest[];
  answerWith(answer: ScriptedAnswer): void;
  close(): Promise<void>;
}

/** An HTTP(S) server that records every request and answers what the test says. */
async function startScriptedServer(tls?: { key: Buffer; cert: Buffer }): Promise<ScriptedServer> {
  const requests: CapturedRequest[] = [];
  let answer: ScriptedAnswer = { status: 204 };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    requests.push({
      method: req.method ?? '',
      url: new URL(req.url ?? '/', 'http://x'),
      headers: req.headers,
      body: body.toString('utf8'),
    });
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };
  const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    answerWith: (next) => {
      answer = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('InfluxDB writers on the wire (scripted server)', function () {
  this.timeout(30_000);
  let server: ScriptedServer;
  beforeEach(async () => {
    server = await startScriptedServer();
  });
  afterEach(closeOpenWriters);
  afterEach(() => server.close());

  const records = () =>
    Array.from({ length: 2500 }, (_, i) => makeAuditRecord({ sheetName: `sheet "${i}", a=b \\ ü` }));

  it('v1: one POST /write?db&rp&precision=n with Basic auth, carrying exactly the lines it is given', async () => {
    const config = influxdbConfig(
      1,
      { port: server.port },
      {
        v1Config: {
          dbName: 'audit db',
          retentionPolicy: { name: 'one year', duration: '52w' },
          auth: { enable: true, username: 'writer', password: 'p:w' },
        },
      },
    );
    const lines = linesFor(config, records());
    await writerFor(config).write(lines);
    expect(server.requests).to.have.length(1);
    const [request] = server.requests;
    expect(request.method).to.equal('POST');
    expect(request.url.pathname).to.equal('/write');
    expect(Object.fromEntries(request.url.searchParams)).to.deep.equal({
      db: 'audit db',
      rp: 'one year',
      precision: 'n',
    });
    expect(request.headers.authorization).to.equal(`Basic ${Buffer.from('writer:p:w').toString('base64')}`);
    expect(request.body).to.equal(lines.join('\n'));
  });

  it("v1: keeps a \\' exactly (the influx package's own escaping would double the backslash)", async () => {
    const config = influxdbConfig(1, { port: server.port });
    const lines = linesFor(config, [makeAuditRecord({ appName: "O\\'Brien", sheetName: "it\\'s" })]);
    await writerFor(config).write(lines);
    expect(server.requests[0].body).to.equal(lines.join('\n'));
    expect(server.requests[0].body).to.include("appName=O\\'Brien").and.include('sheetName="it\\\\\'s"');
  });

  it('v2: one POST /api/v2/write?org&bucket&precision=ns with the token, for any batch size', async () => {
    const config = influxdbConfig(2, { port: server.port });
    const lines = linesFor(config, records());
    await writerFor(config).write(lines);
    expect(server.requests).to.have.length(1);
    const [request] = server.requests;
    expect(request.url.pathname).to.equal('/api/v2/write');
    expect(Object.fromEntries(request.url.searchParams)).to.deep.equal({
      org: 'my-org',
      bucket: 'audit',
      precision: 'ns',
    });
    expect(request.headers.authorization).to.equal(`Token ${TOKEN}`);
    expect(request.headers['content-type']).to.equal('text/plain; charset=utf-8');
    expect(request.body).to.equal(lines.join('\n'));
  });

  it('v3: one POST /api/v2/write?bucket&precision=ns with the token, never no_sync', async () => {
    const config = influxdbConfig(3, { port: server.port });
    const lines = linesFor(config, records());
    await writerFor(config).write(lines);
    expect(server.requests).to.have.length(1);
    const [request] = server.requests;
    expect(request.url.pathname).to.equal('/api/v2/write');
    expect(Object.fromEntries(request.url.searchParams)).to.deep.equal({ bucket: 'audit', precision: 'ns' });
    expect(request.headers.authorization).to.equal(`Token ${TOKEN}`);
    expect(request.body).to.equal(lines.join('\n'));
  });

  it('sends nothing for an empty batch (InfluxDB 3 refuses an empty write)', async () => {
    for (const version of [1, 2, 3] as const)
      await writerFor(influxdbConfig(version, { port: server.port })).write([]);
    expect(server.requests).to.have.length(0);
  });

  for (const version of [1, 2, 3] as const) {
    describe(`v${version}: classification of answers`, () => {
      const writeAnswered = async (answer: ScriptedAnswer) => {
        server.answerWith(answer);
        const config = influxdbConfig(version, { port: server.port });
        return writeError(writerFor(config), linesFor(config, [makeAuditRecord()]));
      };
      const jsonError = (text: string) => ({
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(version === 2 ? { code: 'invalid', message: text } : { error: text }),
      });

      it('429 with Retry-After: transient, waiting that many seconds', async () => {
        const error = await writeAnswered({ status: 429, headers: { 'retry-after': '3' } });
        expect(error.kind).to.equal('transient');
        expect(error.details).to.deep.include({ status: 429, retryAfterMs: 3000 });
      });

      it('413: too-large', async () => {
        const error = await writeAnswered({ status: 413, body: 'Request Entity Too Large' });
        expect(error.kind).to.equal('too-large');
        expect(error.details.status).to.equal(413);
      });

      it('400 and 422: rejected, with the server message', async () => {
        for (const status of [400, 422]) {
          const error = await writeAnswered({ status, ...jsonError('unable to parse: bad line') });
          expect(error.kind).to.equal('rejected');
          expect(error.details).to.deep.include({ status, serverMessage: 'unable to parse: bad line' });
        }
      });

      it('400 quoting a refused line that holds the text of a request-level refusal: rejected', async () => {
        const line = 'audit_event,appName=a sheetName="cannot write to soft-deleted database x" 1';
        const error = await writeAnswered({
          status: 400,
          ...jsonError(`write buffer error: unable to parse '${line}': bad timestamp`),
        });
        expect(error.kind).to.equal('rejected');
      });

      it(`400 with the request-level texts of InfluxDB 3: ${version === 3 ? 'configuration' : 'rejected (only v3 sends them)'}`, async () => {
        for (const text of [
          "cannot write to soft-deleted database 'audit' - it is marked for deletion",
          'write buffer error: Adding a new database would exceed limit of 5 databases',
          'Authorization header was malformed, the request was not in the form of ...',
          'db name cannot be empty',
        ]) {
          const error = await writeAnswered({ status: 400, ...jsonError(text) });
          expect(error.kind, text).to.equal(version === 3 ? 'configuration' : 'rejected');
        }
      });

      it('401, 403 and 404: configuration', async () => {
        for (const status of [401, 403, 404]) {
          const error = await writeAnswered({ status, ...jsonError('no') });
          expect(error.kind).to.equal('configuration');
          expect(error.details.status).to.equal(status);
        }
      });

      it('503 with Retry-After: transient, waiting that many seconds, with the server message', async () => {
        // v1 too, though the influx package turns every 5xx into an error without status or headers.
        const busy = jsonError('busy');
        const error = await writeAnswered({
          status: 503,
          headers: { ...busy.headers, 'retry-after': '7' },
          body: busy.body,
        });
        expect(error.kind).to.equal('transient');
        expect(error.details).to.deep.equal({ status: 503, retryAfterMs: 7000, serverMessage: 'busy' });
      });

      it('500 without a body: transient, with its status', async () => {
        const error = await writeAnswered({ status: 500 });
        expect(error.kind).to.equal('transient');
        expect(error.details.status).to.equal(500);
      });
    });
  }
});

describe('InfluxDB writers over https', function () {
  this.timeout(30_000);
  let dir: string;
  let server: ScriptedServer;
  let previousCa: unknown;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'influx-writers-tls-'));
    const { certFile, keyFile } = createLocalhostCertificate(dir, 'server');
    const cert = readFileSync(certFile);
    server = await startScriptedServer({ key: readFileSync(keyFile), cert });
    // All three clients use the global https agent: trusting the test certificate there keeps
    // certificate verification on.
    previousCa = https.globalAgent.options.ca;
    https.globalAgent.options.ca = cert;
  });
  after(async () => {
    https.globalAgent.options.ca = previousCa as typeof https.globalAgent.options.ca;
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(closeOpenWriters);

  for (const version of [1, 2, 3] as const) {
    it(`v${version}: protocol https writes over TLS`, async () => {
      const config = influxdbConfig(version, { port: server.port, protocol: 'https' });
      const before = server.requests.length;
      await writerFor(config).write(linesFor(config, [makeAuditRecord()]));
      expect(server.requests.length - before).to.equal(1);
    });
  }
});
