/**
 * The InfluxDB v2/v3 emulator (test/support/influx-emulator/) is strict and really stores in
 * influxd: requests go over TCP with plain `fetch`, what they store is read back from influxd.
 * Texts are asserted only where the emulator copies them from the real servers' source; texts
 * that come from influxd 1.x underneath (parse errors) are not the servers' own, so only the
 * status, the shape and what was stored are checked for them.
 */
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import {
  startInfluxEmulator,
  type InfluxEmulator,
  type InfluxEmulatorOptions,
} from '../support/influx-emulator/index.js';
import { eventually } from '../support/eventually.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';

const TOKEN = 'emulator-test-token';
const READ_ONLY_TOKEN = 'emulator-read-only-token';
/** 2023-11-14T22:13:20.123Z */
const MS = 1_700_000_000_123;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface CallOptions {
  method?: string;
  /** Full Authorization header; `Token <TOKEN>` by default, null for none. */
  authorization?: string | null;
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

async function call(emulator: InfluxEmulator, path: string, options: CallOptions = {}): Promise<Answer> {
  const authorization = options.authorization === undefined ? `Token ${TOKEN}` : options.authorization;
  const response = await fetch(`${emulator.url}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: { ...(authorization === null ? {} : { authorization }), ...options.headers },
    body: options.body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: parseOrUndefined(text) };
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A gzip body as fetch takes it. */
function gzip(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(gzipSync(text));
}

/** The `code` of a v2-shaped error body `{"code","message"}` (its message must be a text too). */
function v2Code(answer: Answer): string {
  const { code, message } = answer.json as { code: string; message: unknown };
  expect(message).to.be.a('string').and.not.equal('');
  return code;
}

/** One entry of a v3 write error's `data`. */
interface LineError {
  original_line: string;
  line_number: number;
  error_message: string;
}

const LINE_ERROR_KEYS = ['original_line', 'line_number', 'error_message'];

async function databaseNames(influxd: InfluxdServer): Promise<unknown[]> {
  return (await influxd.query('', 'SHOW DATABASES')).map((row) => row.name);
}

function postJson(emulator: InfluxEmulator, path: string, value: unknown): Promise<Answer> {
  return call(emulator, path, {
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json' },
  });
}

describe('InfluxDB v2/v3 emulator backed by influxd 1.6.7', function () {
  let influxd: InfluxdServer;
  let emulator: InfluxEmulator;
  let nameCounter = 0;
  /** influxd outlives the emulators of this file, so every database gets a fresh name. */
  const fresh = (prefix: string) => `${prefix}_${++nameCounter}`;
  const start = async (options: Omit<InfluxEmulatorOptions, 'influxd' | 'token'>) => {
    emulator = await startInfluxEmulator({ influxd, token: TOKEN, ...options });
    return emulator;
  };
  const measurementRows = (db: string, measurement: string) =>
    influxd.query(db, `SELECT * FROM "${measurement}"`, { epoch: 'ms' });

  before(async function () {
    influxd = await startInfluxd();
  });

  after(async function () {
    await influxd?.stop();
  });

  afterEach(async function () {
    await emulator?.stop();
  });

  describe('v2', function () {
    let orgId: string;
    let bucket: string;

    beforeEach(async function () {
      await start({ version: 2, orgs: ['acme', 'other'], readOnlyTokens: [READ_ONLY_TOKEN] });
      orgId = emulator.orgId('acme');
      bucket = fresh('bucket');
      expect((await postJson(emulator, '/api/v2/buckets', { orgID: orgId, name: bucket })).status).to.equal(
        201,
      );
    });

    const write = (
      query: string,
      body: string | Uint8Array<ArrayBuffer>,
      headers: Record<string, string> = {},
    ) =>
      call(emulator, `/api/v2/write?${query}`, {
        body,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
      });

    it('answers /ping and /health without a token', async function () {
      const ping = await call(emulator, '/ping', { authorization: null });
      expect(ping.status).to.equal(204);
      expect(ping.headers.get('x-influxdb-build')).to.equal('OSS');
      const health = await call(emulator, '/health', { authorization: null });
      expect(health.status).to.equal(200);
      expect(health.json).to.include({
        name: 'influxdb',
        message: 'ready for queries and writes',
        status: 'pass',
      });
    });

    it('answers 401 unauthorized on every other route without `Token <right token>`', async function () {
      const unauthorized = { code: 'unauthorized', message: 'unauthorized access' };
      for (const authorization of [null, 'Token wrong', `Bearer ${TOKEN}`, TOKEN]) {
        for (const [path, body] of [
          ['/api/v2/orgs?org=acme'],
          ['/api/v2/buckets?org=acme'],
          [`/api/v2/write?org=acme&bucket=${bucket}`, 'm f=1'],
        ]) {
          const answer = await call(emulator, path as string, { authorization, body });
          expect([answer.status, answer.json], `${authorization} ${path}`).to.deep.equal([401, unauthorized]);
        }
      }
      expect(emulator.stats.writtenLines).to.equal(0);
    });

    it('answers 403 forbidden to a write with a token that may only read, which still reads', async function () {
      const authorization = `Token ${READ_ONLY_TOKEN}`;
      const answer = await call(emulator, `/api/v2/write?org=acme&bucket=${bucket}`, {
        authorization,
        body: 'forbidden f=1 1',
      });

      // [notes §1.2, 2.x write_handler.go]
      expect([answer.status, answer.json]).to.deep.equal([
        403,
        { code: 'forbidden', message: 'insufficient permissions for write' },
      ]);
      expect(await measurementRows(bucket, 'forbidden')).to.deep.equal([]);
      expect((await call(emulator, '/api/v2/orgs?org=acme', { authorization })).status).to.equal(200);
    });

    it('finds an org by name and answers 404 for an unknown one', async function () {
      const found = await call(emulator, '/api/v2/orgs?org=acme');
      expect(found.status).to.equal(200);
      const { orgs } = found.json as { orgs: { id: string; name: string }[] };
      expect(orgs.map(({ id, name }) => ({ id, name }))).to.deep.equal([{ id: orgId, name: 'acme' }]);
      expect(orgId).to.match(/^[0-9a-f]{16}$/);

      const unknown = await call(emulator, '/api/v2/orgs?org=nope');
      expect([unknown.status, unknown.json]).to.deep.equal([
        404,
        { code: 'not found', message: 'organization name "nope" not found' },
      ]);
    });

    it('creates an org (201), found by name afterwards; a taken name answers 422 conflict', async function () {
      const created = await postJson(emulator, '/api/v2/orgs', { name: 'newcomer' });
      expect(created.status).to.equal(201);
      const { id } = created.json as { id: string };
      const found = await call(emulator, '/api/v2/orgs?org=newcomer');
      expect((found.json as { orgs: { id: string }[] }).orgs.map((org) => org.id)).to.deep.equal([id]);

      const taken = await postJson(emulator, '/api/v2/orgs', { name: 'acme' });
      expect([taken.status, taken.json]).to.deep.equal([
        422,
        { code: 'conflict', message: 'organization with name acme already exists' },
      ]);
    });

    it('creates a bucket whose retention influxd enforces, visible in SHOW RETENTION POLICIES', async function () {
      const name = fresh('retained');
      const created = await postJson(emulator, '/api/v2/buckets', {
        orgID: orgId,
        name,
        description: 'audit events',
        retentionRules: [{ type: 'expire', everySeconds: 86400 }],
      });

      expect(created.status).to.equal(201);
      expect(created.json).to.deep.include({ orgID: orgId, name, description: 'audit events', type: 'user' });
      expect((created.json as { retentionRules: unknown }).retentionRules).to.deep.equal([
        { type: 'expire', everySeconds: 86400, shardGroupDurationSeconds: 0 },
      ]);
      const [policy] = await influxd.query(name, 'SHOW RETENTION POLICIES');
      expect(policy).to.include({ name: 'autogen', duration: '24h0m0s', default: true });

      const listed = await call(emulator, `/api/v2/buckets?orgID=${orgId}&name=${name}`);
      expect(listed.status).to.equal(200);
      expect((listed.json as { buckets: unknown[] }).buckets).to.deep.equal([created.json]);
    });

    it('gives a bucket without retention rules (or everySeconds 0) infinite retention', async function () {
      const name = fresh('forever');
      const created = await postJson(emulator, '/api/v2/buckets', {
        orgID: orgId,
        name,
        retentionRules: [{ type: 'expire', everySeconds: 0 }],
      });
      expect((created.json as { retentionRules: unknown }).retentionRules).to.deep.equal([]);
      const [policy] = await influxd.query(name, 'SHOW RETENTION POLICIES');
      expect(policy).to.include({ duration: '0s', default: true });
    });

    it('answers 404 (not an empty list) when a bucket name matches nothing', async function () {
      const notFound = { code: 'not found', message: 'bucket "nope" not found' };
      for (const orgFilter of [`orgID=${orgId}`, 'org=acme']) {
        const answer = await call(emulator, `/api/v2/buckets?${orgFilter}&name=nope`);
        expect([answer.status, answer.json]).to.deep.equal([404, notFound]);
      }
      const otherOrg = await call(emulator, `/api/v2/buckets?org=other&name=${bucket}`);
      expect(otherOrg.status).to.equal(404);
    });

    it('refuses a duplicate bucket, several or negative retention rules, and a missing orgID', async function () {
      const cases: [unknown, number, unknown][] = [
        [
          { orgID: orgId, name: bucket },
          422,
          { code: 'conflict', message: `bucket with name ${bucket} already exists` },
        ],
        [
          {
            orgID: orgId,
            name: fresh('x'),
            retentionRules: [
              { type: 'expire', everySeconds: 3600 },
              { type: 'expire', everySeconds: 7200 },
            ],
          },
          422,
          {
            code: 'unprocessable entity',
            message: 'buckets cannot have more than one retention rule at this time',
          },
        ],
        [
          { orgID: orgId, name: fresh('x'), retentionRules: [{ type: 'expire', everySeconds: -1 }] },
          422,
          { code: 'unprocessable entity', message: 'expiration seconds cannot be negative' },
        ],
        [{ name: fresh('x') }, 400, { code: 'invalid', message: 'organization id must be provided' }],
      ];
      for (const [request, status, body] of cases) {
        const answer = await postJson(emulator, '/api/v2/buckets', request);
        expect([answer.status, answer.json]).to.deep.equal([status, body]);
      }
    });

    it('stores written lines in the influxd database of the bucket', async function () {
      const body = `audit,user=alice,app=sales durationMs=12i,ok=true,note="a b" ${MS}\naudit,user=bob,app=sales durationMs=7i,ok=false,note="c" ${MS + 1}`;
      const answer = await write(`org=acme&bucket=${bucket}&precision=ms`, body);

      expect([answer.status, answer.text]).to.deep.equal([204, '']);
      expect(await measurementRows(bucket, 'audit')).to.deep.equal([
        { time: BigInt(MS), app: 'sales', durationMs: 12, note: 'a b', ok: true, user: 'alice' },
        { time: BigInt(MS + 1), app: 'sales', durationMs: 7, note: 'c', ok: false, user: 'bob' },
      ]);
      expect(emulator.stats).to.deep.include({
        writeRequests: 1,
        writtenLines: 2,
        bytes: Buffer.byteLength(body),
      });
    });

    it('takes orgID and a bucket ID as well as names', async function () {
      const listed = await call(emulator, `/api/v2/buckets?orgID=${orgId}&name=${bucket}`);
      const [{ id }] = (listed.json as { buckets: { id: string }[] }).buckets;
      expect(
        (await write(`orgID=${orgId}&bucket=${id}&precision=s`, 'by_id f=1 1700000000')).status,
      ).to.equal(204);
      expect(await measurementRows(bucket, 'by_id')).to.deep.equal([{ time: 1_700_000_000_000n, f: 1 }]);
    });

    it('translates ns, us, ms and s to influxd precisions; ns is the default; anything else is 400', async function () {
      const seconds = 1_700_000_000;
      for (const [precision, timestamp] of [
        ['ns', `${seconds}000000000`],
        ['us', `${seconds}000000`],
        ['ms', `${seconds}000`],
        ['s', `${seconds}`],
      ]) {
        expect(
          (
            await write(
              `org=acme&bucket=${bucket}&precision=${precision}`,
              `precisions,p=${precision} f=1 ${timestamp}`,
            )
          ).status,
        ).to.equal(204);
      }
      expect(
        (await write(`org=acme&bucket=${bucket}`, `precisions,p=default f=1 ${seconds}000000000`)).status,
      ).to.equal(204);
      const rows = await measurementRows(bucket, 'precisions');
      expect(rows.map((row) => row.time)).to.deep.equal(Array(5).fill(BigInt(seconds * 1000)));

      const refused = await write(`org=acme&bucket=${bucket}&precision=n`, 'precisions f=1 1');
      expect([refused.status, refused.json]).to.deep.equal([
        400,
        { code: 'invalid', message: 'invalid precision; valid precision units are ns, us, ms, and s' },
      ]);
    });

    it('answers 404 for a missing or unknown bucket or org, 400 without any org', async function () {
      const cases: [string, number, unknown][] = [
        ['org=acme', 404, { code: 'not found', message: 'bucket not found' }],
        ['org=acme&bucket=nope', 404, { code: 'not found', message: 'bucket "nope" not found' }],
        [`org=other&bucket=${bucket}`, 404, { code: 'not found', message: `bucket "${bucket}" not found` }],
        [
          `org=nope&bucket=${bucket}`,
          404,
          { code: 'not found', message: 'organization name "nope" not found' },
        ],
        [`bucket=${bucket}`, 400, { code: 'invalid', message: 'Please provide either orgID or org' }],
      ];
      for (const [query, status, body] of cases) {
        const answer = await write(query, 'm f=1 1');
        expect([answer.status, answer.json], query).to.deep.equal([status, body]);
      }
    });

    it('accepts a gzip body and counts its compressed bytes', async function () {
      const compressed = gzip(`zipped,via=gzip f=1 ${MS}`);
      const answer = await write(`org=acme&bucket=${bucket}&precision=ms`, compressed, {
        'content-encoding': 'gzip',
      });

      expect(answer.status).to.equal(204);
      expect(await measurementRows(bucket, 'zipped')).to.deep.equal([
        { time: BigInt(MS), f: 1, via: 'gzip' },
      ]);
      expect(emulator.stats).to.deep.include({ gzipRequests: 1, bytes: compressed.length });
    });

    it('rejects the whole batch with 400 invalid when one line does not parse', async function () {
      const answer = await write(
        `org=acme&bucket=${bucket}`,
        'rejected f=1 1\nrejected f= 2\nrejected f=3 3',
      );

      expect([answer.status, v2Code(answer)]).to.deep.equal([400, 'invalid']);
      expect(await measurementRows(bucket, 'rejected')).to.deep.equal([]);
      expect(emulator.stats.writtenLines).to.equal(0);
    });

    it('checks big batches the same way, through a scratch database it leaves no trace of', async function () {
      const lines = Array.from({ length: 40 }, (_, index) => `big,n=${index} f=${index} ${index + 1}`);
      expect((await write(`org=acme&bucket=${bucket}`, lines.join('\n'))).status).to.equal(204);
      lines[33] = 'big,n=33 f=33 not-a-time';

      const answer = await write(`org=acme&bucket=${bucket}`, lines.join('\n'));

      expect([answer.status, v2Code(answer)]).to.deep.equal([400, 'invalid']);
      expect(await measurementRows(bucket, 'big')).to.have.length(40);
      const databases = await databaseNames(influxd);
      expect(databases.filter((name) => String(name).startsWith('_emulator'))).to.deep.equal([]);
    });

    it('answers 422 for a field type conflict and keeps the other points, as influxd did', async function () {
      await write(`org=acme&bucket=${bucket}`, 'typed f=1.5 1');
      const answer = await write(`org=acme&bucket=${bucket}`, 'typed f="text" 2\ntyped f=2.5 3');

      expect([answer.status, v2Code(answer)]).to.deep.equal([422, 'unprocessable entity']);
      expect((await measurementRows(bucket, 'typed')).map((row) => row.f)).to.deep.equal([1.5, 2.5]);
      expect(emulator.stats.writtenLines).to.equal(2);
    });

    it('answers 422 when influxd refuses a tag value over max-values-per-tag', async function () {
      const limited = await startInfluxd({ maxValuesPerTag: 2 });
      const limitedEmulator = await startInfluxEmulator({
        version: 2,
        influxd: limited,
        token: TOKEN,
        orgs: ['acme'],
      });
      try {
        await postJson(limitedEmulator, '/api/v2/buckets', {
          orgID: limitedEmulator.orgId('acme'),
          name: 'limited',
        });
        const post = (body: string) =>
          call(limitedEmulator, '/api/v2/write?org=acme&bucket=limited', { body });
        expect((await post('tags,t=a f=1 1\ntags,t=b f=1 2')).status).to.equal(204);

        const answer = await post('tags,t=c f=1 3\ntags,t=a f=2 4');
        expect([answer.status, v2Code(answer)]).to.deep.equal([422, 'unprocessable entity']);
        expect(await limited.query('limited', 'SELECT count("f") FROM "tags"')).to.have.nested.property(
          '[0].count',
          3,
        );
      } finally {
        await limitedEmulator.stop();
        await limited.stop();
      }
    });
  });

  describe('v3', function () {
    const writeLp = (query: string, body: string | Uint8Array<ArrayBuffer>, options: CallOptions = {}) =>
      call(emulator, `/api/v3/write_lp?${query}`, { body, ...options });

    beforeEach(async function () {
      await start({ version: 3 });
    });

    it('requires a token on every route, /health and /ping included', async function () {
      const unauthenticated = { error: 'the request was not authenticated' };
      for (const authorization of [null, 'Bearer wrong', 'Token wrong']) {
        for (const [path, body] of [
          ['/health'],
          ['/ping'],
          ['/api/v3/configure/database?format=json'],
          ['/api/v3/write_lp?db=x', 'm f=1'],
          ['/api/v2/write?bucket=x', 'm f=1'],
        ]) {
          const answer = await call(emulator, path as string, { authorization, body });
          expect([answer.status, answer.json], `${authorization} ${path}`).to.deep.equal([
            401,
            unauthenticated,
          ]);
        }
      }
      const malformed = await call(emulator, '/health', { authorization: `Secret ${TOKEN}` });
      expect(malformed.status).to.equal(400);
      expect((malformed.json as { error: string }).error).to.include(
        'supported auth-schemes are Bearer, Token and Basic',
      );
    });

    it('accepts Bearer and Token for the same token: /health is text OK, /ping JSON', async function () {
      for (const scheme of ['Bearer', 'Token']) {
        const health = await call(emulator, '/health', { authorization: `${scheme} ${TOKEN}` });
        expect([health.status, health.text]).to.deep.equal([200, 'OK']);
      }
      const ping = await call(emulator, '/ping');
      expect(ping.status).to.equal(200);
      expect(ping.json).to.have.all.keys('version', 'revision', 'process_id');
      expect(ping.headers.get('x-influxdb-build')).to.equal('Core');
    });

    it('lists databases as [{"iox::database": name}], _internal included, and requires format', async function () {
      const existing = fresh('existing');
      await emulator.stop();
      await start({ version: 3, databases: [existing] });

      const listed = await call(emulator, '/api/v3/configure/database?format=json');
      expect([listed.status, listed.json]).to.deep.equal([
        200,
        [{ 'iox::database': '_internal' }, { 'iox::database': existing }],
      ]);
      expect((await call(emulator, '/api/v3/configure/database')).status).to.equal(400);
    });

    it('creates a database with its retention period (200), 409 when it exists, 400 for a bad name', async function () {
      const db = fresh('created');
      const created = await postJson(emulator, '/api/v3/configure/database', { db, retention_period: '30d' });
      expect([created.status, created.text]).to.deep.equal([200, '']);
      const [policy] = await influxd.query(db, 'SHOW RETENTION POLICIES');
      expect(policy).to.include({ duration: '720h0m0s', default: true });

      const again = await postJson(emulator, '/api/v3/configure/database', { db });
      expect(again.status).to.equal(409);
      const badName = await postJson(emulator, '/api/v3/configure/database', { db: 'no spaces' });
      expect([badName.status, badName.json]).to.deep.equal([
        400,
        {
          error:
            'invalid character in database or rp name: must be ASCII, containing only letters, numbers, underscores, or hyphens',
        },
      ]);
    });

    it('holds at most 5 databases, created or auto-created by a write; the 6th answers 422', async function () {
      const names = Array.from({ length: 6 }, () => fresh('limit'));
      for (const db of names.slice(0, 4))
        expect((await postJson(emulator, '/api/v3/configure/database', { db })).status).to.equal(200);
      expect((await writeLp(`db=${names[4]}`, 'auto_created f=1 1')).status).to.equal(204);

      const limit = { error: 'Adding a new database would exceed limit of 5 databases' };
      const created = await postJson(emulator, '/api/v3/configure/database', { db: names[5] });
      expect([created.status, created.json]).to.deep.equal([422, limit]);
      const written = await writeLp(`db=${names[5]}`, 'auto_created f=1 1');
      expect([written.status, written.json]).to.deep.equal([422, limit]);
      const compat = await call(emulator, `/api/v2/write?bucket=${names[5]}`, { body: 'auto_created f=1 1' });
      expect([compat.status, compat.json]).to.deep.equal([
        400,
        { code: 'invalid', message: `write buffer error: catalog update error: ${limit.error}` },
      ]);

      const listed = await call(emulator, '/api/v3/configure/database?format=json');
      expect(listed.json).to.have.length(6); // _internal does not count toward the limit
      expect((await writeLp(`db=${names[4]}`, 'auto_created f=2 2')).status).to.equal(204);
    });

    it('stores lines with every precision name, and precision=auto guesses each timestamp', async function () {
      const db = fresh('precise');
      const seconds = 1_700_000_000;
      const spelled = {
        nanosecond: '000000000',
        ns: '000000000',
        microsecond: '000000',
        us: '000000',
        millisecond: '000',
        ms: '000',
        second: '',
        s: '',
      };
      for (const [precision, zeros] of Object.entries(spelled)) {
        expect(
          (await writeLp(`db=${db}&precision=${precision}`, `spelled,p=${precision} f=1 ${seconds}${zeros}`))
            .status,
        ).to.equal(204);
      }
      const mixed = ['', '000', '000000', '000000000']
        .map((zeros, index) => `auto,digits=d${index} f=1,s="a b=c, d" ${seconds}${zeros}`)
        .join('\n');
      expect((await writeLp(`db=${db}`, mixed)).status).to.equal(204);

      for (const measurement of ['spelled', 'auto']) {
        const times = (await measurementRows(db, measurement)).map((row) => row.time);
        expect(new Set(times), measurement).to.deep.equal(new Set([BigInt(seconds * 1000)]));
      }
      expect(emulator.stats.writtenLines).to.equal(12);
    });

    it('partial write: stores the good lines and lists the bad ones with their line numbers', async function () {
      const db = fresh('partial');
      await writeLp(`db=${db}&precision=ms`, `mixed f=1.5 ${MS - 1}`);
      const lines = [
        `mixed f=1 ${MS}`,
        '# a comment',
        `mixed f= ${MS + 1}`,
        '',
        `mixed f="text" ${MS + 2}`,
        `mixed f=4 ${MS + 3}`,
        'mixed,no=fields',
      ];
      const body = lines.join('\n');

      const answer = await writeLp(`db=${db}&precision=ms`, body);

      expect(answer.status).to.equal(400);
      const { error, data } = answer.json as { error: string; data: LineError[] };
      expect(error).to.equal('partial write of line protocol occurred');
      // line_number counts data lines only: the comment and the blank line are not numbered.
      expect(data.map(({ line_number, original_line }) => [line_number, original_line])).to.deep.equal([
        [2, `mixed f= ${MS + 1}`],
        [3, `mixed f="text" ${MS + 2}`],
        [5, 'mixed,no=fields'],
      ]);
      for (const failure of data) expect(failure).to.have.all.keys(LINE_ERROR_KEYS);
      // InfluxDB 3's catalog text (influxdb3_catalog/src/error.rs InvalidColumnType), not influxd's.
      expect(data[1].error_message).to.equal(
        "invalid column type for column 'f', expected iox::column_type::field::float, got iox::column_type::field::string",
      );
      expect((await measurementRows(db, 'mixed')).map((row) => row.f)).to.deep.equal([1.5, 1, 4]);
      expect(emulator.stats.writtenLines).to.equal(3);
    });

    it('keeps a newline inside a quoted string field in its line, as influxd does', async function () {
      const db = fresh('newline');
      const answer = await writeLp(`db=${db}`, 'multiline f="first\nsecond" 1\nmultiline f= 2');

      expect(answer.status).to.equal(400);
      expect(
        (answer.json as { data: { line_number: number }[] }).data.map((failure) => failure.line_number),
      ).to.deep.equal([2]);
      expect((await measurementRows(db, 'multiline')).map((row) => row.f)).to.deep.equal(['first\nsecond']);
    });

    it('checks column types per table: a type stored in another shard is refused too, unlike influxd', async function () {
      const db = fresh('per_table');
      expect((await writeLp(`db=${db}&precision=s`, 'shards f=1.5 1')).status).to.equal(204); // 1970
      const answer = await writeLp(`db=${db}&precision=ms`, `shards f="text" ${MS}`);

      expect(answer.status).to.equal(400);
      const { data } = answer.json as { data: LineError[] };
      expect(data.map((failure) => failure.line_number)).to.deep.equal([1]);
      expect((await measurementRows(db, 'shards')).map((row) => row.f)).to.deep.equal([1.5]);
    });

    it('refuses a tag and a field of one name in a table, as InfluxDB 3 does', async function () {
      const db = fresh('tag_field');
      expect((await writeLp(`db=${db}`, 'ids,id=a f=1 1')).status).to.equal(204);
      const answer = await writeLp(`db=${db}`, 'ids id="a" 2\nids,id=b f=2 3');

      expect(answer.status).to.equal(400);
      expect((answer.json as { data: LineError[] }).data.map((failure) => failure.line_number)).to.deep.equal(
        [1],
      );
      expect((await measurementRows(db, 'ids')).map((row) => row.id)).to.deep.equal(['a', 'b']);
    });

    for (const [label, body, badLine] of [
      ['a line that does not parse', 'strict f=1 1\nstrict,t= f=2 2\nstrict g=3 3', 2],
      ['a field type conflict', 'strict f=1 1\nstrict g=2 2\nstrict f="text" 3\nstrict h=4 4', 3],
    ] as const) {
      it(`accept_partial=false writes nothing for ${label}, and names the line in a data object`, async function () {
        const db = fresh('strict');
        const seeded = await writeLp(`db=${db}&precision=ms`, `strict f=0.5 ${MS}`);
        expect(seeded.status).to.equal(204);

        const answer = await writeLp(`db=${db}&accept_partial=false`, body);

        expect(answer.status).to.equal(400);
        const { error, data } = answer.json as { error: string; data: LineError };
        expect(error).to.equal('line protocol parsing error');
        expect(data).to.have.all.keys(LINE_ERROR_KEYS);
        expect([data.line_number, data.original_line]).to.deep.equal([
          badLine,
          body.split('\n')[badLine - 1],
        ]);
        expect((await measurementRows(db, 'strict')).map((row) => row.f)).to.deep.equal([0.5]);
        expect(emulator.stats.writtenLines).to.equal(1);
      });
    }

    it('accept_partial=false refused on the first write of a database: the database is not created', async function () {
      const db = fresh('never');
      const answer = await writeLp(`db=${db}&accept_partial=false`, 'never f=1 1\nnever f= 2');

      expect(answer.status).to.equal(400);
      expect(await databaseNames(influxd)).to.not.include(db);
      const listed = await call(emulator, '/api/v3/configure/database?format=json');
      expect(listed.json).to.not.deep.include({ 'iox::database': db });
    });

    it('v2-compatible /api/v2/write is all-or-nothing, nanoseconds by default, and auto-creates the database', async function () {
      const db = fresh('compat');
      const refused = await call(emulator, `/api/v2/write?bucket=${db}`, {
        body: 'compat f=1 1\ncompat f=oops 2',
      });
      expect([refused.status, v2Code(refused)]).to.deep.equal([400, 'invalid']);
      expect(await databaseNames(influxd)).to.not.include(db);

      const accepted = await call(emulator, `/api/v2/write?bucket=${db}`, {
        authorization: `Bearer ${TOKEN}`,
        body: `compat f=1 ${MS}000000`,
      });
      expect(accepted.status).to.equal(204);
      expect(await measurementRows(db, 'compat')).to.deep.equal([{ time: BigInt(MS), f: 1 }]);

      const conflict = await call(emulator, `/api/v2/write?bucket=${db}`, {
        body: `compat g=1 ${MS}000001\ncompat f="text" ${MS}000002`,
      });
      expect([conflict.status, v2Code(conflict)]).to.deep.equal([400, 'invalid']);
      // [v3 http.rs] V2WriteApiError: the message is the error's text, `write buffer error: ` and all.
      expect((conflict.json as { message: string }).message).to.equal(
        "write buffer error: line protocol parse failed: invalid column type for column 'f', expected iox::column_type::field::float, got iox::column_type::field::string",
      );
      expect(await measurementRows(db, 'compat')).to.deep.equal([{ time: BigInt(MS), f: 1 }]);
    });

    it('accepts gzip bodies and records every no_sync=true request', async function () {
      const db = fresh('zipped');
      const compressed = gzip(`zipped f=1 ${MS}`);
      expect(
        (await writeLp(`db=${db}&precision=ms`, compressed, { headers: { 'content-encoding': 'gzip' } }))
          .status,
      ).to.equal(204);
      expect((await writeLp(`db=${db}&precision=ms&no_sync=true`, `zipped f=2 ${MS + 1}`)).status).to.equal(
        204,
      );

      expect(emulator.stats).to.deep.include({
        writeRequests: 2,
        gzipRequests: 1,
        noSyncRequests: 1,
        writtenLines: 2,
      });
      const noSync = emulator.requests.filter((request) => request.query.no_sync === 'true');
      expect(noSync.map((request) => request.path)).to.deep.equal(['/api/v3/write_lp']);
      expect((await measurementRows(db, 'zipped')).map((row) => row.f)).to.deep.equal([1, 2]);
    });

    it('rejects empty writes, missing db, unknown precisions and bad database names', async function () {
      const cases: [string, string, number, string][] = [
        [`db=${fresh('empty')}`, '# only a comment\n', 400, 'incoming write was empty'],
        ['precision=ms', 'm f=1 1', 400, "missing query parameter 'db'"],
        [`db=${fresh('p')}&precision=minute`, 'm f=1 1', 400, 'serde error'],
        ['db=_underscore', 'm f=1 1', 400, 'db name did not start with a number or letter'],
      ];
      for (const [query, body, status, fragment] of cases) {
        const answer = await writeLp(query, body);
        expect(answer.status, query).to.equal(status);
        expect(answer.text, query).to.include(fragment);
      }
      expect(emulator.stats.writtenLines).to.equal(0);
    });
  });

  describe('request size limit (maxRequestBytes)', function () {
    const LIMIT = 64;
    const tooLong = `sized f=1,note="${'x'.repeat(LIMIT)}" 1`;

    it('v2: a body over the limit, as sent or decompressed, answers 413 `request too large` and stores nothing', async function () {
      await start({ version: 2, orgs: ['acme'], maxRequestBytes: LIMIT });
      const bucket = fresh('sized');
      await postJson(emulator, '/api/v2/buckets', { orgID: emulator.orgId('acme'), name: bucket });
      const tooLarge = {
        code: 'request too large',
        message: 'unable to read data: points batch is too large',
      };
      const path = `/api/v2/write?org=acme&bucket=${bucket}`;

      const plain = await call(emulator, path, { body: tooLong });
      const zipped = await call(emulator, path, {
        body: gzip(tooLong),
        headers: { 'content-encoding': 'gzip' },
      });

      expect([plain.status, plain.json]).to.deep.equal([413, tooLarge]);
      expect([zipped.status, zipped.json]).to.deep.equal([413, tooLarge]);
      expect((await call(emulator, path, { body: 'sized f=2 2' })).status).to.equal(204);
      expect((await measurementRows(bucket, 'sized')).map((row) => row.f)).to.deep.equal([2]);
    });

    it('v3: 413 with a text on write_lp and the v2 shape on /api/v2/write', async function () {
      const db = fresh('sized');
      await start({ version: 3, databases: [db], maxRequestBytes: LIMIT });
      const message = `max request size (${LIMIT} bytes) exceeded`;

      const native = await call(emulator, `/api/v3/write_lp?db=${db}`, { body: tooLong });
      const compat = await call(emulator, `/api/v2/write?bucket=${db}`, {
        body: gzip(tooLong),
        headers: { 'content-encoding': 'gzip' },
      });

      expect([native.status, native.text]).to.deep.equal([413, message]);
      expect([compat.status, compat.json]).to.deep.equal([413, { code: 'request too large', message }]);
      expect(await measurementRows(db, 'sized')).to.deep.equal([]);
    });
  });

  describe('fault switches', function () {
    let db: string;
    const writeLp = (body: string, signal?: AbortSignal) =>
      fetch(`${emulator.url}/api/v3/write_lp?db=${db}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body,
        signal,
      });

    beforeEach(async function () {
      db = fresh('faults');
      await start({ version: 3, databases: [db] });
    });

    it('failNextWrites answers the status with Retry-After, stores nothing, then writes again', async function () {
      emulator.failNextWrites(2, { status: 503, retryAfterSeconds: 7 });

      for (const attempt of [1, 2]) {
        const failed = await writeLp(`faulted f=${attempt} ${attempt}`);
        expect([failed.status, failed.headers.get('retry-after')]).to.deep.equal([503, '7']);
      }
      expect((await writeLp('faulted f=3 3')).status).to.equal(204);
      expect((await measurementRows(db, 'faulted')).map((row) => row.f)).to.deep.equal([3]);
      expect(emulator.stats).to.deep.include({ writeRequests: 3, writtenLines: 1 });
    });

    it("fails with 429 and 500 too, with the server's usual body or a given one", async function () {
      emulator.failNextWrites(1, { status: 429 });
      emulator.failNextWrites(1, { status: 500, body: { error: 'boom' } });

      const throttled = await writeLp('m f=1 1');
      expect([throttled.status, await throttled.text()]).to.deep.equal([
        429,
        'this service is overloaded, please try again later',
      ]);
      const broken = await writeLp('m f=1 1');
      expect([broken.status, await broken.json()]).to.deep.equal([500, { error: 'boom' }]);
    });

    it('gives v2 fault answers the v2 error shape', async function () {
      await emulator.stop();
      await start({ version: 2 });
      emulator.failNextWrites(1, { status: 503 });
      const answer = await call(emulator, '/api/v2/write?org=my-org&bucket=any', { body: 'm f=1 1' });
      expect([answer.status, answer.json]).to.deep.equal([
        503,
        { code: 'unavailable', message: 'service temporarily unavailable' },
      ]);
    });

    it('timeoutNextWrites holds a write unanswered until the client gives up', async function () {
      emulator.timeoutNextWrites(1);

      const abandoned = await writeLp('held f=1 1', AbortSignal.timeout(300)).catch((error: Error) => error);

      expect(abandoned).to.be.instanceOf(Error).with.property('name', 'TimeoutError');
      expect((await writeLp('held f=2 2')).status).to.equal(204);
      expect((await measurementRows(db, 'held')).map((row) => row.f)).to.deep.equal([2]);
    });

    it('stop() ends held requests', async function () {
      emulator.timeoutNextWrites(1);
      const pending = writeLp('held f=1 1').catch((error: Error) => error);
      await eventually(
        async () => emulator.requests.some((request) => request.outcome === 'held') || undefined,
      );

      await emulator.stop();

      expect(await pending).to.be.instanceOf(TypeError); // fetch failed: the socket was closed
    });

    it('dropNextWrites destroys the connection without an answer', async function () {
      emulator.dropNextWrites(1);

      const dropped = await writeLp('dropped f=1 1').catch((error: Error) => error);

      expect(dropped).to.be.instanceOf(TypeError).with.property('message', 'fetch failed');
      expect(emulator.requests.at(-1)?.outcome).to.equal('dropped');
      expect((await writeLp('dropped f=2 2')).status).to.equal(204);
    });

    it('setToken makes the old token fail and the new one work', async function () {
      emulator.setToken('rotated');
      expect((await writeLp('rotated f=1 1')).status).to.equal(401);
      const answer = await fetch(`${emulator.url}/api/v3/write_lp?db=${db}`, {
        method: 'POST',
        headers: { authorization: 'Token rotated' },
        body: 'rotated f=1 1',
      });
      expect(answer.status).to.equal(204);
    });
  });
});
