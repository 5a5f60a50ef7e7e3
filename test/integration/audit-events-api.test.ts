/**
 * The audit API over real TCP sockets: every row of the status table in docs/http-api.md, the order of
 * checks, hostile bodies, rate limit, CORS, security headers and TLS.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import type { DeliveryStatus } from '../../src/lib/delivery/delivery-loop.js';
import { buildAuditEventsApi, type AuditApiDeps } from '../../src/lib/audit-events-api.js';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validConfig } from '../support/config.js';
import { ServiceUnavailableError } from '../../src/lib/errors.js';
import { createSilentLogger, type Logger } from '../../src/lib/logger.js';
import { AuditMetrics } from '../../src/lib/metrics/audit-metrics.js';
import { rawJsonRequest } from '../support/audit-api-client.js';
import { recordingLogger } from '../support/recording-logger.js';
import { createClientCertificateAuthority, createLocalhostCertificate } from '../support/tls.js';

const TOKEN = 'test-token-5b1e9c';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const JSON_TYPE = { 'content-type': 'application/json' };
const EVENT_PATH = '/api/v1/audit-event';
const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'",
  'referrer-policy': 'no-referrer',
};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

function fixtureText(type: string): string {
  return readFileSync(`${FIXTURES_DIR}${type}.json`, 'utf8');
}

// Tests break envelopes in ways AuditEnvelope forbids (wrong types, deleted fields).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = any;

function fixture(type: string): AuditEnvelope {
  return JSON.parse(fixtureText(type)) as AuditEnvelope;
}

/** A fixture with `change` applied; for one-field variations. */
function variant(type: string, change: (envelope: LooseJson) => void): AuditEnvelope {
  const envelope = fixture(type);
  change(envelope);
  return envelope;
}

/** The config as the module builds it: through the real validator, with the real defaults. */
function buildConfig(raw: Record<string, unknown> = {}): AuditEventsConfig {
  return validConfig({ port: 0, apiToken: TOKEN, ...raw });
}

interface ApiOptions {
  config?: Record<string, unknown>;
  accept?: AuditApiDeps['accept'];
  health?: AuditApiDeps['health'];
  logger?: Logger;
  metrics?: AuditMetrics;
}

interface RunningApi {
  app: FastifyInstance;
  port: number;
  url: string;
  /** What the API handed to the log, in order. */
  accepted: AuditEnvelope[];
}

/** Metrics of an API without a log or destinations behind it. */
function noMetrics(): AuditMetrics {
  return new AuditMetrics({ log: () => null, destinations: () => [], handlersRunning: () => 0 });
}

/** Starts APIs on 127.0.0.1:0; every one is closed after the enclosing describe. */
function apiStarter() {
  const apps: FastifyInstance[] = [];
  after(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  return async (options: ApiOptions = {}): Promise<RunningApi> => {
    const accepted: AuditEnvelope[] = [];
    const config = buildConfig(options.config);
    const app = await buildAuditEventsApi({
      config,
      logger: options.logger ?? createSilentLogger(),
      accept: options.accept ?? (async (envelope) => void accepted.push(envelope)),
      health: options.health ?? (() => ({ healthy: true, destinations: [], log: {} })),
      version: '14.0.0-test',
      metrics: options.metrics ?? noMetrics(),
    });
    apps.push(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const scheme = config.tls.enable ? 'https' : 'http';
    return { app, port, url: `${scheme}://127.0.0.1:${port}`, accepted };
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: LooseJson;
}

async function call(api: RunningApi, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, init);
  const text = await response.text();
  // Every body the API sends is JSON (or empty): JSON.parse failing here is a test failure.
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

/** Raw bytes as a fetch body; a Blob without a type adds no Content-Type of its own. */
const bytesBody = (bytes: Buffer) => new Blob([new Uint8Array(bytes)]);

/** POSTs an envelope (objects are serialised, strings and bytes sent as they are) with the token. */
function postEvent(api: RunningApi, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const payload =
    typeof body === 'string' ? body : Buffer.isBuffer(body) ? bytesBody(body) : JSON.stringify(body);
  return call(api, EVENT_PATH, {
    method: 'POST',
    headers: { ...JSON_TYPE, ...AUTH, ...headers },
    body: payload,
  });
}

function expectAccepted(answer: Answer): void {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(202);
  expect(answer.body).to.deep.equal({
    status: 'accepted',
    receivedAt: answer.body.receivedAt,
    outcome: 'processed',
  });
  expect(new Date(answer.body.receivedAt).toISOString()).to.equal(answer.body.receivedAt);
}

interface ExpectedError {
  reason: string | RegExp;
  errors?: Array<{ instancePath: string; message: string | RegExp }>;
}

/** Exact error body: status 'error', outcome, reason and (for 400/422) every listed error. */
function expectError(answer: Answer, statusCode: number, expected: ExpectedError): void {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(statusCode);
  const { body } = answer;
  const matches = (actual: string, wanted: string | RegExp) =>
    typeof wanted === 'string' ? actual === wanted : wanted.test(actual);
  expect(matches(body.reason, expected.reason), `reason '${body.reason}'`).to.equal(true);
  const errors = expected.errors?.map((error, index) => ({
    instancePath: error.instancePath,
    message: matches(body.details?.errors?.[index]?.message, error.message)
      ? body.details.errors[index].message
      : error.message,
  }));
  expect(body).to.deep.equal({
    status: 'error',
    receivedAt: body.receivedAt,
    outcome: statusCode === 500 ? 'error' : 'dropped',
    reason: body.reason,
    ...(errors === undefined ? {} : { details: { errors } }),
  });
  expect(new Date(body.receivedAt).toISOString()).to.equal(body.receivedAt);
}

function expectSecurityHeaders(answer: Answer, { hsts = false } = {}): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(answer.headers.get(name), `${name} on ${answer.status}`).to.equal(value);
  }
  expect(answer.headers.get('strict-transport-security')).to.equal(hsts ? 'max-age=31536000' : null);
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

describe('audit events API (over TCP)', function () {
  this.timeout(20_000);
  const startApi = apiStarter();

  describe('accepted events', () => {
    let api: RunningApi;
    before(async () => {
      api = await startApi();
    });

    for (const file of readdirSync(FIXTURES_DIR).filter((name) => name.endsWith('.json'))) {
      it(`accepts ${file} (202) and hands it to the log unchanged`, async () => {
        const type = file.replace(/\.json$/, '');
        const count = api.accepted.length;
        expectAccepted(await postEvent(api, fixtureText(type)));
        expect(api.accepted).to.have.length(count + 1);
        expect(api.accepted.at(-1)).to.deep.equal(fixture(type));
      });
    }

    it('keeps unknown extra properties everywhere', async () => {
      const envelope = variant('screenshot.url.received', (e) => {
        e.extensionBuild = { sha: 'abc', dirty: false };
        e.source.channel = 'beta';
        e.payload.sessionId = 's-1';
        e.payload.context.tenant = 'corp';
        e.payload.event.crop.zoom = 1.25;
      });
      expectAccepted(await postEvent(api, envelope));
      expect(api.accepted.at(-1)).to.deep.equal(envelope);
    });

    it('accepts event.custom (any event.<something>)', async () => {
      const envelope = variant('navigation.sheet.loaded', (e) => (e.type = 'event.custom'));
      expectAccepted(await postEvent(api, envelope));
      expect(api.accepted.at(-1)).to.deep.equal(envelope);
    });

    it('accepts a leap second timestamp and keeps it as sent', async () => {
      const envelope = variant('navigation.sheet.loaded', (e) => (e.timestamp = '2016-12-31T23:59:60.500Z'));
      expectAccepted(await postEvent(api, envelope));
      expect(api.accepted.at(-1)?.timestamp).to.equal('2016-12-31T23:59:60.500Z');
    });

    it('accepts a supported version in the X-Audit-QS-Version header', async () => {
      expectAccepted(
        await postEvent(api, fixture('selection.state.changed'), { 'x-audit-qs-version': '1.4.0' }),
      );
    });
  });

  describe('X-Audit-QS-Version sent twice or as a list (proxies append headers): its first value counts', () => {
    let api: RunningApi;
    before(async () => {
      api = await startApi();
    });

    /** POSTs with raw header lines: node:http sends an array as one line per value. */
    async function postWithVersionLines(versions: string[]): Promise<Answer> {
      const answer = await rawJsonRequest(
        httpRequest,
        {
          host: '127.0.0.1',
          port: api.port,
          path: EVENT_PATH,
          method: 'POST',
          headers: { ...JSON_TYPE, ...AUTH, 'x-audit-qs-version': versions },
        },
        fixtureText('selection.state.changed'),
      );
      return { ...answer, headers: new Headers(answer.headers as Record<string, string>) };
    }

    const incompatible = (version: string) => ({
      reason: 'event failed validation',
      errors: [
        {
          instancePath: '',
          message: `incompatible extension version '${version}' (from X-Audit-QS-Version header): supported: >=0.1.0 <2.0.0`,
        },
      ],
    });

    it('a header sent twice: 202 when the first is supported, whatever the second', async () => {
      expectAccepted(await postWithVersionLines(['1.4.0', '9.9.9']));
      expectAccepted(await postWithVersionLines(['1.4.0', '1.4.0']));
      expect(api.accepted.splice(0)).to.have.length(2);
    });

    it('a header sent twice: 422 naming the first when it is not supported', async () => {
      expectError(await postWithVersionLines(['2.0.0', '1.4.0']), 422, incompatible('2.0.0'));
      expect(api.accepted).to.deep.equal([]);
    });

    it('a comma list: its first non-blank value', async () => {
      expectAccepted(
        await postEvent(api, fixture('selection.state.changed'), { 'x-audit-qs-version': '1.4.0, 9.9.9' }),
      );
      expectAccepted(
        await postEvent(api, fixture('selection.state.changed'), { 'x-audit-qs-version': ' , 1.4.0,2.5.0' }),
      );
      expectError(
        await postEvent(api, fixture('selection.state.changed'), { 'x-audit-qs-version': '3.0.0,1.4.0' }),
        422,
        incompatible('3.0.0'),
      );
      expect(api.accepted.splice(0)).to.have.length(2);
    });

    it('test-connection reports the first value', async () => {
      const answer = await call(api, '/api/v1/test-connection', {
        headers: { ...AUTH, 'x-audit-qs-version': '0.4.1, 7.0.0' },
      });
      expect(answer.body).to.include({ auditQsVersion: '0.4.1', compatible: true });
    });

    it('accepts brackets and escaped quotes inside strings (they are not nesting)', async () => {
      const envelope = variant(
        'navigation.sheet.loaded',
        (e) => (e.payload.context.appName = `\\"${'[{'.repeat(100)}`),
      );
      expectAccepted(await postEvent(api, envelope));
      expect(api.accepted.at(-1)).to.deep.equal(envelope);
    });

    it('accepts "application/json; charset=utf-8" and a UTF-8 BOM-less body with non-ASCII text', async () => {
      const envelope = variant(
        'navigation.sheet.loaded',
        (e) => (e.payload.context.appName = 'Försäljning 📊 売上'),
      );
      expectAccepted(await postEvent(api, envelope, { 'content-type': 'application/json; charset=utf-8' }));
      expect(api.accepted.at(-1)).to.deep.equal(envelope);
    });
  });

  describe('missing extension version', () => {
    it('is accepted (202), with one warning per minute at most', async () => {
      const { logger, lines } = recordingLogger('warn');
      const api = await startApi({ logger });
      const envelope = variant('navigation.sheet.loaded', (e) => delete e.source);
      expectAccepted(await postEvent(api, envelope));
      expectAccepted(await postEvent(api, envelope));
      expectAccepted(await postEvent(api, envelope));
      expect(api.accepted).to.deep.equal([envelope, envelope, envelope]);
      const warnings = lines.filter((line) => line.includes('without extension version'));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/^warn: /);
    });
  });

  describe('refused events (400, 422)', () => {
    let api: RunningApi;
    before(async () => {
      api = await startApi();
    });
    afterEach(() => {
      expect(api.accepted, 'a refused event reached the log').to.deep.equal([]);
    });

    it('400 for a string schemaVersion: never coerced', async () => {
      const answer = await postEvent(
        api,
        fixtureText('navigation.sheet.loaded').replace('"schemaVersion": 1', '"schemaVersion": "1"'),
      );
      expectError(answer, 400, {
        reason: 'invalid envelope',
        errors: [{ instancePath: '/schemaVersion', message: 'must be integer' }],
      });
    });

    it('400 for missing envelope fields, all listed', async () => {
      const answer = await postEvent(api, { schemaVersion: 1, type: 'navigation.sheet.loaded' });
      expectError(answer, 400, {
        reason: 'invalid envelope',
        errors: ['eventId', 'timestamp', 'payload'].map((field) => ({
          instancePath: '',
          message: `must have required property '${field}'`,
        })),
      });
    });

    it('400 for ill-typed fields, all listed, before any semantic check', async () => {
      const envelope = variant('object.view.duration', (e) => {
        e.eventId = 'not-a-uuid'; // semantic: not reported while the envelope itself is ill-typed
        e.type = 12;
        e.payload.context = [];
      });
      expectError(await postEvent(api, envelope), 400, {
        reason: 'invalid envelope',
        errors: [
          { instancePath: '/type', message: 'must be string' },
          { instancePath: '/payload/context', message: 'must be object' },
        ],
      });
    });

    it('422 lists every violation at once: eventId, correlationId, appId', async () => {
      const envelope = variant('selection.state.changed', (e) => {
        e.eventId = 'evt-1';
        e.correlationId = 'x'.repeat(65);
        e.payload.context.appId = 'Sales.qvf';
      });
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [
          { instancePath: '/eventId', message: 'must match format "uuid"' },
          { instancePath: '/correlationId', message: 'must NOT have more than 64 characters' },
          { instancePath: '/payload/context/appId', message: 'must match format "uuid"' },
        ],
      });
    });

    it('422 for an unknown type', async () => {
      const envelope = variant('navigation.sheet.loaded', (e) => (e.type = 'foo.bar'));
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [
          {
            instancePath: '/type',
            message: "unknown type 'foo.bar': must be a known type or start with 'event.'",
          },
        ],
      });
    });

    it('422 for a timestamp that is not RFC 3339', async () => {
      const envelope = variant('navigation.sheet.loaded', (e) => (e.timestamp = '14/10/2026 08:15'));
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [{ instancePath: '/timestamp', message: 'must match format "date-time"' }],
      });
    });

    it('422 for a context name over its limit', async () => {
      const envelope = variant(
        'navigation.sheet.loaded',
        (e) => (e.payload.context.sheetName = 's'.repeat(513)),
      );
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [
          { instancePath: '/payload/context/sheetName', message: 'must NOT have more than 512 characters' },
        ],
      });
    });

    it('422 for selection.state.changed without selectionTxnId', async () => {
      const envelope = variant('selection.state.changed', (e) => delete e.payload.event.selectionTxnId);
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [{ instancePath: '/payload/event', message: "must have required property 'selectionTxnId'" }],
      });
    });

    it('422 for object.view.duration with a negative duration', async () => {
      const envelope = variant('object.view.duration', (e) => (e.payload.event.duration = -1));
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [{ instancePath: '/payload/event/duration', message: 'must be >= 0' }],
      });
    });

    it('422 for object.view.duration with a string duration (not coerced)', async () => {
      const envelope = variant('object.view.duration', (e) => (e.payload.event.duration = '30608'));
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [{ instancePath: '/payload/event/duration', message: 'must be number' }],
      });
    });

    it('422 for a screenshot crop of width 0', async () => {
      const envelope = variant('screenshot.url.received', (e) => (e.payload.event.crop.width = 0));
      expectError(await postEvent(api, envelope), 422, {
        reason: 'event failed validation',
        errors: [{ instancePath: '/payload/event/crop/width', message: 'must be > 0' }],
      });
    });

    it('422 for an incompatible version in the X-Audit-QS-Version header', async () => {
      const answer = await postEvent(api, fixture('selection.state.changed'), {
        'x-audit-qs-version': '2.0.0',
      });
      expectError(answer, 422, {
        reason: 'event failed validation',
        errors: [
          {
            instancePath: '',
            message:
              "incompatible extension version '2.0.0' (from X-Audit-QS-Version header): supported: >=0.1.0 <2.0.0",
          },
        ],
      });
    });

    it('422 for an incompatible or unparseable source.version', async () => {
      const tooNew = variant('selection.state.changed', (e) => (e.source.version = '3.1.0'));
      expectError(await postEvent(api, tooNew), 422, {
        reason: 'event failed validation',
        errors: [
          {
            instancePath: '/source/version',
            message:
              "incompatible extension version '3.1.0' (from source.version): supported: >=0.1.0 <2.0.0",
          },
        ],
      });
      const garbled = variant('selection.state.changed', (e) => (e.source.version = 'v-next'));
      expectError(await postEvent(api, garbled), 422, {
        reason: 'event failed validation',
        errors: [
          {
            instancePath: '/source/version',
            message:
              /^incompatible extension version 'v-next' \(from source.version\): not a semantic version/,
          },
        ],
      });
    });
  });

  describe('hostile input: each refused, and the server still accepts the next valid event', () => {
    let api: RunningApi;
    before(async () => {
      api = await startApi();
    });

    const validEnvelopeText = fixtureText('navigation.sheet.loaded');
    const deeplyNested = `{"schemaVersion":1,"deep":${'['.repeat(2000)}${']'.repeat(2000)}}`;
    const invalidUtf8 = Buffer.concat([
      Buffer.from(validEnvelopeText.slice(0, validEnvelopeText.indexOf('Sales'))),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from(validEnvelopeText.slice(validEnvelopeText.indexOf('Sales'))),
    ]);
    const twoMegabytes = JSON.stringify(
      variant('navigation.sheet.loaded', (e) => (e.payload.padding = 'x'.repeat(2 * 1024 * 1024))),
    );

    const cases: Array<{
      name: string;
      send: () => Promise<Answer>;
      status: number;
      expected: ExpectedError;
    }> = [
      {
        name: 'malformed JSON',
        send: () => postEvent(api, '{"schemaVersion": 1, "eventId": '),
        status: 400,
        expected: {
          reason: /^malformed JSON: /,
          errors: [{ instancePath: '', message: /^malformed JSON: / }],
        },
      },
      {
        name: 'an empty body with Content-Type application/json',
        send: () => postEvent(api, ''),
        status: 400,
        expected: {
          reason: /^malformed JSON: /,
          errors: [{ instancePath: '', message: /^malformed JSON: / }],
        },
      },
      {
        name: 'a 2 MB body',
        send: () => postEvent(api, twoMegabytes),
        status: 413,
        expected: { reason: 'body larger than 1048576 bytes' },
      },
      {
        name: '2000 levels of nesting',
        send: () => postEvent(api, deeplyNested),
        status: 400,
        expected: {
          reason: 'JSON nests deeper than 64 levels',
          errors: [{ instancePath: '', message: 'JSON nests deeper than 64 levels' }],
        },
      },
      {
        name: 'a __proto__ key',
        send: () =>
          postEvent(
            api,
            validEnvelopeText.replace('"payload": {', '"payload": { "__proto__": { "isAdmin": true },'),
          ),
        status: 400,
        expected: {
          reason: "body contains the forbidden key '__proto__'",
          errors: [{ instancePath: '', message: "body contains the forbidden key '__proto__'" }],
        },
      },
      {
        name: 'a constructor.prototype key',
        send: () =>
          postEvent(
            api,
            validEnvelopeText.replace(
              '"payload": {',
              '"payload": { "constructor": { "prototype": { "x": 1 } },',
            ),
          ),
        status: 400,
        expected: {
          reason: "body contains the forbidden key 'constructor.prototype'",
          errors: [{ instancePath: '', message: "body contains the forbidden key 'constructor.prototype'" }],
        },
      },
      {
        name: 'wrong types',
        send: () =>
          postEvent(api, { schemaVersion: true, eventId: 1, timestamp: {}, type: null, payload: 'p' }),
        status: 400,
        expected: {
          reason: 'invalid envelope',
          errors: [
            { instancePath: '/schemaVersion', message: 'must be integer' },
            { instancePath: '/eventId', message: 'must be string' },
            { instancePath: '/timestamp', message: 'must be string' },
            { instancePath: '/type', message: 'must be string' },
            { instancePath: '/payload', message: 'must be object' },
          ],
        },
      },
      {
        name: 'a JSON body that is not an object',
        send: () => postEvent(api, '[1, 2, 3]'),
        status: 400,
        expected: { reason: 'invalid envelope', errors: [{ instancePath: '', message: 'must be object' }] },
      },
      {
        name: 'a text/plain body',
        send: () => postEvent(api, validEnvelopeText, { 'content-type': 'text/plain' }),
        status: 415,
        expected: { reason: 'content type must be application/json' },
      },
      {
        name: 'a body without Content-Type',
        send: () =>
          call(api, EVENT_PATH, {
            method: 'POST',
            headers: AUTH,
            body: bytesBody(Buffer.from(validEnvelopeText)),
          }),
        status: 415,
        expected: { reason: 'content type must be application/json' },
      },
      {
        name: 'no body and no Content-Type',
        send: () => call(api, EVENT_PATH, { method: 'POST', headers: AUTH }),
        status: 415,
        expected: { reason: 'content type must be application/json' },
      },
      {
        name: 'invalid UTF-8 bytes',
        send: () => postEvent(api, invalidUtf8),
        status: 400,
        expected: {
          reason: 'body is not valid UTF-8',
          errors: [{ instancePath: '', message: 'body is not valid UTF-8' }],
        },
      },
      {
        name: 'a missing token',
        send: () => call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: validEnvelopeText }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
      {
        name: 'a wrong token',
        send: () => postEvent(api, validEnvelopeText, { authorization: `Bearer ${TOKEN}x` }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
      {
        name: 'a token in another scheme',
        send: () => postEvent(api, validEnvelopeText, { authorization: `Basic ${TOKEN}` }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
      {
        name: 'an invalid body without a token (401 before any body validation)',
        send: () =>
          call(api, EVENT_PATH, {
            method: 'POST',
            headers: JSON_TYPE,
            body: '{"schemaVersion": "1", "__proto__": {}',
          }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
      {
        name: 'a text/plain body without a token (401 before the content type)',
        send: () =>
          call(api, EVENT_PATH, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
      {
        name: 'a 2 MB body without a token (401 before the size)',
        send: () => call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: twoMegabytes }),
        status: 401,
        expected: { reason: 'missing or invalid bearer token' },
      },
    ];

    beforeEach(() => {
      api.accepted.length = 0;
    });

    for (const { name, send, status, expected } of cases) {
      it(`${status} for ${name}`, async () => {
        expectError(await send(), status, expected);
        expect(api.accepted).to.deep.equal([]);
        expectAccepted(await postEvent(api, validEnvelopeText));
        expect(api.accepted).to.deep.equal([JSON.parse(validEnvelopeText)]);
      });
    }

    it('401 carries WWW-Authenticate: Bearer', async () => {
      const answer = await call(api, EVENT_PATH, {
        method: 'POST',
        headers: JSON_TYPE,
        body: validEnvelopeText,
      });
      expect(answer.status).to.equal(401);
      expect(answer.headers.get('www-authenticate')).to.equal('Bearer');
    });
  });

  describe('routes and authentication', () => {
    let api: RunningApi;
    before(async () => {
      api = await startApi();
    });

    it('unknown route: 401 without a token, 404 with one', async () => {
      expectError(await call(api, '/api/v1/nothing-here'), 401, {
        reason: 'missing or invalid bearer token',
      });
      expectError(await call(api, '/api/v1/nothing-here', { headers: AUTH }), 404, {
        reason: 'no such route',
      });
      expectError(await call(api, EVENT_PATH, { headers: AUTH }), 404, { reason: 'no such route' });
    });

    it('unknown route without a configured token: 404', async () => {
      const open = await startApi({ config: { apiToken: '' } });
      expectError(await call(open, '/elsewhere'), 404, { reason: 'no such route' });
      expectAccepted(
        await call(open, EVENT_PATH, {
          method: 'POST',
          headers: JSON_TYPE,
          body: fixtureText('object.view.duration'),
        }),
      );
    });

    it('test-connection: 401 without a token, 200 with the upstream fields', async () => {
      expectError(await call(api, '/api/v1/test-connection'), 401, {
        reason: 'missing or invalid bearer token',
      });
      const answer = await call(api, '/api/v1/test-connection', {
        headers: { ...AUTH, 'x-audit-qs-version': '0.4.1' },
      });
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.equal({
        status: 'ok',
        message: 'Butler SOS audit API is reachable',
        timestamp: answer.body.timestamp,
        butlerSosVersion: '14.0.0-test',
        auditQsVersion: '0.4.1',
        compatible: true,
      });
      expect(new Date(answer.body.timestamp).toISOString()).to.equal(answer.body.timestamp);
      expectSecurityHeaders(answer);
    });

    it('test-connection reports an incompatible or missing extension version', async () => {
      const tooNew = await call(api, '/api/v1/test-connection', {
        headers: { ...AUTH, 'x-audit-qs-version': '2.1.0' },
      });
      expect(tooNew.body).to.include({ auditQsVersion: '2.1.0', compatible: false });
      const unknown = await call(api, '/api/v1/test-connection', { headers: AUTH });
      expect(unknown.body).to.include({ auditQsVersion: null, compatible: true });
    });

    it('health: 401 without a token; 200 when healthy, 503 when not', async () => {
      const destination: DeliveryStatus = {
        id: 'parquet',
        buffered: 3,
        checkpoint: 7,
        written: 10,
        rejected: 0,
        failed: 0,
        lastError: null,
        lastSuccessAt: '2026-10-14T08:15:20.000Z',
        healthy: true,
        retryDelayMs: null,
      };
      let healthy = true;
      const withHealth = await startApi({
        health: () => ({ healthy, destinations: [{ ...destination, healthy }], log: { backlog: 3 } }),
      });
      expectError(await call(withHealth, '/api/v1/health'), 401, {
        reason: 'missing or invalid bearer token',
      });

      const good = await call(withHealth, '/api/v1/health', { headers: AUTH });
      expect(good.status).to.equal(200);
      expect(good.body).to.deep.equal({ status: 'ok', destinations: [destination], log: { backlog: 3 } });

      healthy = false;
      const bad = await call(withHealth, '/api/v1/health', { headers: AUTH });
      expect(bad.status).to.equal(503);
      expect(bad.body).to.deep.equal({
        status: 'unhealthy',
        destinations: [{ ...destination, healthy: false }],
        log: { backlog: 3 },
      });
      expectSecurityHeaders(bad);
    });
  });

  describe('when the log cannot take the event', () => {
    it('503 with Retry-After and the reason when accept throws ServiceUnavailableError', async () => {
      const api = await startApi({
        accept: async () => {
          throw new ServiceUnavailableError('event log is full', 7);
        },
      });
      const answer = await postEvent(api, fixture('app.model.validated'));
      expectError(answer, 503, { reason: 'event log is full' });
      expect(answer.headers.get('retry-after')).to.equal('7');
      expectSecurityHeaders(answer);
    });

    it('500 with no stack or internals when accept throws anything else', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({
        logger,
        accept: async () => {
          throw new Error('ENOSPC: /var/lib/butler/journal/000017.seg at Journal.append (journal.ts:42)');
        },
      });
      const answer = await postEvent(api, fixture('app.model.validated'));
      expectError(answer, 500, { reason: 'internal error' });
      expect(JSON.stringify(answer.body)).to.not.match(/ENOSPC|journal|stack|\.ts/);
      expectSecurityHeaders(answer);
      expect(lines.join('')).to.include('ENOSPC'); // the operator, not the client, learns the cause
    });

    it('logs above debug carry neither the token nor the payload', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, accept: async () => Promise.reject(new Error('boom')) });
      await postEvent(api, fixture('app.model.validated'));
      await postEvent(
        api,
        variant('app.model.validated', (e) => (e.eventId = 'bad')),
      );
      const logged = lines.join('');
      expect(logged).to.include('boom');
      expect(logged).to.not.include(TOKEN);
      expect(logged).to.not.include('Sales Performance 2026');
      expect(logged).to.not.include('anna.lindqvist');
    });
  });

  describe('rate limit', () => {
    const limited = { rateLimit: { maxPerMinute: 3 } };
    const valid = () => fixture('navigation.sheet.loaded');

    it('429 with Retry-After beyond maxPerMinute, before authentication', async () => {
      const api = await startApi({ config: limited });
      for (let index = 0; index < 3; index++) expectAccepted(await postEvent(api, valid()));
      const refused = await postEvent(api, valid());
      const retryAfter = refused.headers.get('retry-after');
      expect(Number(retryAfter)).to.be.within(1, 60);
      expectError(refused, 429, {
        reason: `rate limit exceeded: at most 3 requests per minute; retry after ${retryAfter} s`,
      });
      expectSecurityHeaders(refused);
      // A client without the token is refused by the rate limit first.
      expectError(await call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: '{}' }), 429, {
        reason: /^rate limit exceeded/,
      });
      expect(api.accepted).to.have.length(3);
    });

    it('counts unknown routes too', async () => {
      const api = await startApi({ config: limited });
      for (let index = 0; index < 3; index++) expect((await call(api, '/nowhere')).status).to.equal(401);
      expect((await call(api, '/nowhere')).status).to.equal(429);
    });

    it('ignores X-Forwarded-For when trustProxy is false: the header cannot dodge the limit', async () => {
      const api = await startApi({ config: limited });
      for (let index = 0; index < 3; index++) {
        expectAccepted(await postEvent(api, valid(), { 'x-forwarded-for': `10.0.0.${index}` }));
      }
      expect((await postEvent(api, valid(), { 'x-forwarded-for': '10.9.9.9' })).status).to.equal(429);
    });

    it('limits per first X-Forwarded-For address when trustProxy is true', async () => {
      const api = await startApi({ config: { ...limited, trustProxy: true } });
      for (let index = 0; index < 3; index++) {
        expectAccepted(await postEvent(api, valid(), { 'x-forwarded-for': `10.0.0.1, 192.168.0.${index}` }));
      }
      expect((await postEvent(api, valid(), { 'x-forwarded-for': '10.0.0.1' })).status).to.equal(429);
      expectAccepted(await postEvent(api, valid(), { 'x-forwarded-for': '10.0.0.2, 10.0.0.1' }));
    });

    it('can be switched off', async () => {
      const api = await startApi({ config: { rateLimit: { enable: false, maxPerMinute: 1 } } });
      for (let index = 0; index < 4; index++) expectAccepted(await postEvent(api, valid()));
    });

    describe('queue.rateLimit: the events of all clients together', () => {
      const allClients = {
        rateLimit: { enable: false },
        queue: { rateLimit: { enable: true, maxMessagesPerMinute: 3 } },
      };

      it('429 with Retry-After for the event beyond maxMessagesPerMinute, whichever client sends it', async () => {
        const { logger, lines } = recordingLogger('warn');
        const metrics = noMetrics();
        const api = await startApi({ config: allClients, logger, metrics });
        // Three addresses as far as the server knows (trustProxy off: the socket's peer is one;
        // what matters is that the count is not per client): three events, then none.
        for (let index = 0; index < 3; index++) {
          expectAccepted(await postEvent(api, valid(), { 'x-forwarded-for': `10.0.0.${index}` }));
        }
        expect(metrics.rateLimitCurrent()).to.equal(3);
        const refused = await postEvent(api, valid());
        const retryAfter = refused.headers.get('retry-after');
        expect(Number(retryAfter)).to.be.within(1, 60);
        expectError(refused, 429, {
          reason: `rate limit exceeded: at most 3 events per minute from all clients together; retry after ${retryAfter} s`,
        });
        expect(api.accepted).to.have.length(3);
        expect(lines).to.deep.equal([
          'warn: audit API: refused POST /api/v1/audit-event from 127.0.0.1 with 429: more than 3 events ' +
            'in a minute from all clients together; raise Butler-SOS.auditEvents.queue.rateLimit.maxMessagesPerMinute ' +
            'if the destinations keep up (repeats are counted: at most one warning every 60 s)',
        ]);
      });

      it('is not used up by clients without the token, nor by other routes', async () => {
        const api = await startApi({ config: allClients });
        for (let index = 0; index < 5; index++) {
          expect(
            (await call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: '{}' })).status,
          ).to.equal(401);
          expect((await call(api, '/api/v1/test-connection', { headers: AUTH })).status).to.equal(200);
        }
        for (let index = 0; index < 3; index++) expectAccepted(await postEvent(api, valid()));
        expect((await postEvent(api, valid())).status).to.equal(429);
      });

      it('is off by default', async () => {
        const metrics = noMetrics();
        const api = await startApi({ config: { rateLimit: { enable: false } }, metrics });
        for (let index = 0; index < 5; index++) expectAccepted(await postEvent(api, valid()));
        expect(metrics.rateLimitCurrent()).to.equal(0);
      });
    });
  });

  describe('GET /metrics', () => {
    async function scrape(api: RunningApi, headers: Record<string, string> = AUTH) {
      const response = await fetch(`${api.url}/metrics`, { headers });
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        text: await response.text(),
      };
    }

    /** The value of one sample line, e.g. `audit_http_responses_total{status="202"}`; 0 when absent. */
    function sample(text: string, series: string): number {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    }

    it('needs the token, as every route does', async () => {
      const api = await startApi();
      const refused = await scrape(api, {});
      expect(refused.status).to.equal(401);
      expect(refused.text).not.to.include('audit_');
    });

    it("answers Prometheus text counting each event's answer by type and outcome, and every answer by status", async () => {
      const api = await startApi();
      expectAccepted(await postEvent(api, fixture('navigation.sheet.loaded')));
      expectAccepted(await postEvent(api, fixture('navigation.sheet.loaded')));
      expectAccepted(
        await postEvent(api, { ...fixture('navigation.sheet.loaded'), type: 'event.sheet.printed' }),
      );
      expect(
        (
          await postEvent(
            api,
            variant('app.model.validated', (e) => (e.eventId = 'bad')),
          )
        ).status,
      ).to.equal(422);
      expect((await postEvent(api, { ...fixture('object.view.duration'), type: 'made.up' })).status).to.equal(
        422,
      );
      const noToken = await call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: '{}' });
      expect(noToken.status).to.equal(401);
      const answer = await scrape(api);
      expect(answer.status).to.equal(200);
      expect(answer.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
      const received = (labels: string) => sample(answer.text, `audit_events_received_total{${labels}}`);
      expect(received('type="navigation.sheet.loaded",outcome="accepted"')).to.equal(2);
      expect(received('type="event.other",outcome="accepted"')).to.equal(1);
      expect(received('type="app.model.validated",outcome="refused"')).to.equal(1);
      expect(received('type="invalid",outcome="refused"')).to.equal(1);
      expect(received('type="unread",outcome="refused"')).to.equal(1);
      const responses = (status: number) =>
        sample(answer.text, `audit_http_responses_total{status="${status}"}`);
      expect([responses(202), responses(422), responses(401)]).to.deep.equal([3, 2, 1]);
      expect(answer.text).to.match(/^# HELP audit_process_cpu_user_seconds_total /m);
    });

    it('counts a 503 of a full log as unavailable', async () => {
      const api = await startApi({
        accept: async () => {
          throw new ServiceUnavailableError('the event log is full', 5);
        },
      });
      expect((await postEvent(api, fixture('navigation.sheet.loaded'))).status).to.equal(503);
      const answer = await scrape(api);
      expect(
        sample(
          answer.text,
          'audit_events_received_total{type="navigation.sheet.loaded",outcome="unavailable"}',
        ),
      ).to.equal(1);
    });
  });

  describe('security headers', () => {
    it('are on 202, 400, 401, 404, 413, 415, 422 and 429 answers', async () => {
      const api = await startApi({ config: { rateLimit: { maxPerMinute: 8 }, bodyLimitBytes: 4096 } });
      const answers = [
        await postEvent(api, fixture('navigation.sheet.loaded')),
        await postEvent(api, '{'),
        await call(api, EVENT_PATH, { method: 'POST', headers: JSON_TYPE, body: '{}' }),
        await call(api, '/nowhere', { headers: AUTH }),
        await postEvent(api, JSON.stringify({ padding: 'x'.repeat(5000) })),
        await postEvent(api, 'x', { 'content-type': 'text/plain' }),
        await postEvent(
          api,
          variant('navigation.sheet.loaded', (e) => (e.type = 'foo.bar')),
        ),
        await call(api, '/api/v1/health', { headers: AUTH }),
        await postEvent(api, fixture('navigation.sheet.loaded')),
      ];
      expect(answers.map((answer) => answer.status)).to.deep.equal([
        202, 400, 401, 404, 413, 415, 422, 200, 429,
      ]);
      for (const answer of answers) expectSecurityHeaders(answer);
    });
  });

  describe('CORS', () => {
    const allowed = 'https://qlik.example.com';
    // What Chromium asks before Audit.qs's POST from a Qlik Sense page that adds its own header.
    const requestedHeaders = 'authorization,content-type,x-audit-qs-version,x-qlik-web-integration-id';
    const preflight = (origin: string): RequestInit => ({
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': requestedHeaders,
      },
    });

    let api: RunningApi;
    before(async () => {
      api = await startApi({ config: { cors: { allowedOrigins: [allowed] } } });
    });

    it('an allowed origin gets Access-Control-Allow-Origin', async () => {
      const answer = await postEvent(api, fixture('navigation.sheet.loaded'), { origin: allowed });
      expectAccepted(answer);
      expect(answer.headers.get('access-control-allow-origin')).to.equal(allowed);
    });

    it("an allowed origin's preflight passes without a token (204), allowed the headers it asks for, for 2 hours", async () => {
      const answer = await call(api, EVENT_PATH, preflight(allowed));
      expect(answer.status).to.equal(204);
      expect(answer.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(answer.headers.get('access-control-allow-methods')).to.equal('GET, POST');
      expect(answer.headers.get('access-control-allow-headers')).to.equal(requestedHeaders);
      expect(answer.headers.get('access-control-max-age')).to.equal('7200');
      // Caches must not hand one origin's (or one header list's) answer to another.
      expect(answer.headers.get('vary')).to.equal('Origin, Access-Control-Request-Headers');
      expectSecurityHeaders(answer);
    });

    it("an allowed origin's refusals (401, 429) carry CORS headers, so the page can read them and Retry-After", async () => {
      const limited = await startApi({
        config: { cors: { allowedOrigins: [allowed] }, rateLimit: { maxPerMinute: 2 } },
      });
      // Preflights carry no event: they are answered before the rate limit and cost nothing of it.
      for (let index = 0; index < 3; index++)
        expect((await call(limited, EVENT_PATH, preflight(allowed))).status).to.equal(204);
      const refused = await call(limited, EVENT_PATH, {
        method: 'POST',
        headers: { ...JSON_TYPE, origin: allowed },
        body: '{}',
      });
      expectError(refused, 401, { reason: 'missing or invalid bearer token' });
      expect(refused.headers.get('access-control-allow-origin')).to.equal(allowed);
      expectAccepted(await postEvent(limited, fixture('navigation.sheet.loaded'), { origin: allowed }));
      const limitedAnswer = await postEvent(limited, fixture('navigation.sheet.loaded'), { origin: allowed });
      expectError(limitedAnswer, 429, { reason: /^rate limit exceeded/ });
      expect(limitedAnswer.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(limitedAnswer.headers.get('access-control-expose-headers')).to.equal('Retry-After');
      expect(limited.accepted).to.have.length(1);
    });

    it('an allowed origin is matched as a browser sends it: case, default port and a trailing slash do not matter', async () => {
      const { logger, lines } = recordingLogger('warn');
      const lenient = await startApi({
        logger,
        config: { cors: { allowedOrigins: ['https://Qlik.Example.com:443/', 'qlik.example.com'] } },
      });
      const answer = await call(lenient, EVENT_PATH, preflight(allowed));
      expect(answer.status).to.equal(204);
      expect(answer.headers.get('access-control-allow-origin')).to.equal(allowed);
      // An entry without a scheme can never match: said at start, with what to write instead.
      expect(lines).to.deep.equal([
        "warn: Butler-SOS.auditEvents.cors.allowedOrigins: 'qlik.example.com' is not an origin and never matches; " +
          "write the Qlik Sense site's address as a browser shows it: scheme, host and port if not the default " +
          '(https://qlik.example.com)',
      ]);
    });

    it('a disallowed origin gets no CORS headers, and its preflight (never carrying a token) gets 401', async () => {
      const answer = await postEvent(api, fixture('navigation.sheet.loaded'), {
        origin: 'https://evil.example.net',
      });
      expectAccepted(answer);
      expect(answer.headers.get('access-control-allow-origin')).to.equal(null);

      const refused = await call(api, EVENT_PATH, preflight('https://evil.example.net'));
      expectError(refused, 401, { reason: 'missing or invalid bearer token' });
      expect(refused.headers.get('access-control-allow-origin')).to.equal(null);
      expect(refused.headers.get('access-control-allow-methods')).to.equal(null);
      expectSecurityHeaders(refused);
    });

    it('no allowed origins: no CORS headers at all, and preflights need the token', async () => {
      const closed = await startApi();
      const answer = await postEvent(closed, fixture('navigation.sheet.loaded'), { origin: allowed });
      expectAccepted(answer);
      expect([...answer.headers.keys()].filter((name) => name.startsWith('access-control-'))).to.deep.equal(
        [],
      );
      expectError(await call(closed, EVENT_PATH, preflight(allowed)), 401, {
        reason: 'missing or invalid bearer token',
      });
    });

    it('no token set: a disallowed preflight finds no route (404), with or without allowed origins', async () => {
      for (const allowedOrigins of [[], [allowed]]) {
        const open = await startApi({ config: { apiToken: '', cors: { allowedOrigins } } });
        const refused = await call(open, EVENT_PATH, preflight('https://evil.example.net'));
        expectError(refused, 404, { reason: 'no such route' });
        expect(refused.headers.get('access-control-allow-origin')).to.equal(null);
      }
    });

    it("'*' allows any origin", async () => {
      const open = await startApi({ config: { cors: { allowedOrigins: ['*'] } } });
      const answer = await call(open, EVENT_PATH, preflight('https://anything.example.org'));
      expect(answer.status).to.equal(204);
      expect(answer.headers.get('access-control-allow-origin')).to.equal('*');
    });
  });

  describe('refusals logged at warn: once a minute per kind and origin, with a count, never a token or payload', () => {
    const FIRST = ' (repeats are counted: at most one warning every 60 s)';
    const siteOrigin = 'https://qlik.example.com';
    const otherOrigin = 'http://elsewhere.example.net';
    const preflightFrom = (origin: string): RequestInit => ({
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    const warnings = (lines: string[]) => lines.filter((line) => line.startsWith('warn: '));
    /** The count reported when the server closes: what the minute held after its first warning. */
    const countsAtClose = async (api: RunningApi, lines: string[]) => {
      const before = lines.length;
      await api.app.close();
      return lines.slice(before);
    };

    it("a disallowed origin's preflight: the warning names the origin and the setting; repeats counted", async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, config: { cors: { allowedOrigins: [siteOrigin] } } });
      for (let index = 0; index < 3; index++) {
        expectError(await call(api, EVENT_PATH, preflightFrom(otherOrigin)), 401, {
          reason: 'missing or invalid bearer token',
        });
      }
      const warning =
        `warn: audit API: refused a CORS preflight from 127.0.0.1 for origin '${otherOrigin}' (answered 401): ` +
        `it is not in Butler-SOS.auditEvents.cors.allowedOrigins ('${siteOrigin}'), so the browser blocks every ` +
        'event that pages of that origin post. If Qlik Sense is served from there, add that origin to the list';
      expect(lines).to.deep.equal([`${warning}${FIRST}`]);
      const [counted] = await countsAtClose(api, lines);
      expect(counted).to.match(/ \(2 more times since \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
      expect(counted.replace(/ \(2 more times since .*$/, '')).to.equal(warning);
    });

    it('the defaults (no allowed origin, no token): a preflight gets 404 and the warning says the list is empty', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, config: { apiToken: '' } });
      expectError(await call(api, EVENT_PATH, preflightFrom(siteOrigin)), 404, { reason: 'no such route' });
      expect(lines).to.deep.equal([
        `warn: audit API: refused a CORS preflight from 127.0.0.1 for origin '${siteOrigin}' (answered 404): ` +
          'it is not in Butler-SOS.auditEvents.cors.allowedOrigins (empty), so the browser blocks every ' +
          `event that pages of that origin post. If Qlik Sense is served from there, add that origin to the list${FIRST}`,
      ]);
    });

    it('a missing or wrong token: what was wrong, per origin, never the token', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, config: { cors: { allowedOrigins: [siteOrigin] } } });
      const wrongToken = 'not-the-token-7f3a';
      const body = fixtureText('navigation.sheet.loaded');
      await call(api, EVENT_PATH, { method: 'POST', headers: { ...JSON_TYPE, origin: siteOrigin }, body });
      await call(api, EVENT_PATH, { method: 'POST', headers: { ...JSON_TYPE, origin: siteOrigin }, body });
      await postEvent(api, body, { authorization: `Bearer ${wrongToken}`, origin: otherOrigin });
      await postEvent(api, body, { authorization: `Basic ${TOKEN}` });
      expect(lines).to.deep.equal([
        `warn: audit API: refused POST ${EVENT_PATH} from 127.0.0.1 (origin '${siteOrigin}') with 401: no ` +
          `Authorization header; set the token of Butler-SOS.auditEvents.apiToken in the Audit.qs extension${FIRST}`,
        `warn: audit API: refused POST ${EVENT_PATH} from 127.0.0.1 (origin '${otherOrigin}') with 401: the ` +
          `bearer token does not match Butler-SOS.auditEvents.apiToken; set the same token in the Audit.qs extension${FIRST}`,
        `warn: audit API: refused POST ${EVENT_PATH} from 127.0.0.1 with 401: the Authorization header is not ` +
          `'Bearer <token>'${FIRST}`,
      ]);
      const all = [...lines, ...(await countsAtClose(api, lines))];
      expect(all).to.have.length(4);
      expect(all[3]).to.match(/with 401: no Authorization header; .* \(1 more time since /);
      expect(all.join('\n')).to.not.include(TOKEN).and.not.include(wrongToken);
    });

    it('a validation refusal: its reason and the fields, never the payload', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger });
      const origin = (name: string) => ({ origin: `https://${name}.example.com` });
      const semantic = variant('navigation.sheet.loaded', (e) => {
        e.eventId = 'evt-1';
        e.payload.context.appId = 'Sales.qvf';
      });
      expect((await postEvent(api, semantic, origin('semantic'))).status).to.equal(422);
      expect(
        (await postEvent(api, { schemaVersion: '1', payload: semantic.payload }, origin('schema'))).status,
      ).to.equal(400);
      // V8's parse error quotes the body back to the client; the log keeps only the position.
      const malformed = await postEvent(api, 'CORP\\anna.lindqvist', origin('json'));
      expectError(malformed, 400, {
        reason: /^malformed JSON: .*anna\.lindqvist/,
        errors: [{ instancePath: '', message: /anna/ }],
      });
      expect((await postEvent(api, '{"user": "anna.lindqvist"', origin('truncated'))).status).to.equal(400);
      expect(
        (
          await postEvent(api, fixtureText('navigation.sheet.loaded'), {
            'content-type': 'text/plain',
            ...origin('text'),
          })
        ).status,
      ).to.equal(415);
      const from = (name: string, status: number) =>
        `warn: audit API: refused POST ${EVENT_PATH} from 127.0.0.1 (origin 'https://${name}.example.com') with ${status}: `;
      expect(warnings(lines)).to.deep.equal([
        `${from('semantic', 422)}event failed validation: /eventId must match format "uuid"; /payload/context/appId must match format "uuid"${FIRST}`,
        `${from('schema', 400)}invalid envelope: / must have required property 'eventId'; / must have required ` +
          `property 'timestamp'; / must have required property 'type'; /schemaVersion must be integer${FIRST}`,
        `${from('json', 400)}malformed JSON${FIRST}`,
        `${from('truncated', 400)}malformed JSON at position 25${FIRST}`,
        `${from('text', 415)}content type must be application/json (sent: 'text/plain')${FIRST}`,
      ]);
      expect(lines.join('\n')).to.not.match(/anna|lindqvist|Sales Performance|Regional overview|Sales\.qvf/);
    });

    it('client text in a warning is escaped and cut: no forged log line', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger });
      const answer = await call(api, `/api/v1/x%0Awarn:%20forged${'y'.repeat(400)}`, { headers: AUTH });
      expect(answer.status).to.equal(404);
      const envelope = variant('navigation.sheet.loaded', (e) => (e.type = 'foo\nwarn: forged'));
      expect((await postEvent(api, envelope, { origin: 'https://t.example.com' })).status).to.equal(422);
      expect(lines).to.have.length(2);
      expect(lines[0]).to.match(
        /^warn: audit API: refused GET \/api\/v1\/x%0Awarn:%20forgedy+… from 127\.0\.0\.1 with 404: /,
      );
      expect(lines[1]).to.include("unknown type 'foo\\u000awarn: forged'");
      expect(lines.every((line) => !line.includes('\n'))).to.equal(true);
    });

    it('the rate limit and unknown routes: which setting or route', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, config: { rateLimit: { maxPerMinute: 1 } } });
      expect(
        (await call(api, '/api/v1/audit-events?x=1', { method: 'POST', headers: AUTH })).status,
      ).to.equal(404);
      expect((await call(api, '/api/v1/health', { headers: AUTH })).status).to.equal(429);
      expect(lines).to.deep.equal([
        `warn: audit API: refused POST /api/v1/audit-events from 127.0.0.1 with 404: no such route; Audit.qs posts to POST ${EVENT_PATH}${FIRST}`,
        'warn: audit API: refused GET /api/v1/health from 127.0.0.1 with 429: more than 1 requests in a minute ' +
          'from that address; raise Butler-SOS.auditEvents.rateLimit.maxPerMinute, or set trustProxy: true if a ' +
          `reverse proxy forwards for many users${FIRST}`,
      ]);
    });

    it('accepted events and allowed preflights warn about nothing', async () => {
      const { logger, lines } = recordingLogger('info');
      const api = await startApi({ logger, config: { cors: { allowedOrigins: [siteOrigin] } } });
      expect((await call(api, EVENT_PATH, preflightFrom(siteOrigin))).status).to.equal(204);
      expectAccepted(await postEvent(api, fixture('navigation.sheet.loaded'), { origin: siteOrigin }));
      expect(lines).to.deep.equal([]);
    });
  });

  describe('TLS', function () {
    this.timeout(30_000);
    const passphrase = 'correct horse battery staple';
    let dir: string;
    const file = (name: string) => join(dir, name);

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'audit-api-tls-'));
      // Server: self-signed for 127.0.0.1, key encrypted with a passphrase; a client CA and one client certificate.
      createLocalhostCertificate(dir, 'server', { passphrase });
      createClientCertificateAuthority(dir);
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    const tlsConfig = (extra: Record<string, unknown> = {}) => ({
      tls: { enable: true, certFile: file('server.crt'), keyFile: file('server.key'), passphrase, ...extra },
    });

    /** One HTTPS request trusting our self-signed server certificate. */
    function httpsCall(
      api: RunningApi,
      options: { path: string; method?: string; body?: string; cert?: Buffer; key?: Buffer },
    ) {
      return rawJsonRequest(
        httpsRequest,
        {
          host: '127.0.0.1',
          port: api.port,
          path: options.path,
          method: options.method ?? 'GET',
          ca: readFileSync(file('server.crt')),
          cert: options.cert,
          key: options.key,
          headers: { ...AUTH, ...JSON_TYPE },
        },
        options.body,
      );
    }

    /** Resolves with the negotiated protocol, rejects when the handshake fails. */
    function handshake(api: RunningApi, options: ConnectionOptions) {
      return new Promise<string | null>((resolve, reject) => {
        const socket = tlsConnect(
          { host: '127.0.0.1', port: api.port, ca: readFileSync(file('server.crt')), ...options },
          () => {
            resolve(socket.getProtocol());
            socket.end();
          },
        );
        socket.on('error', reject);
      });
    }

    it('serves HTTPS with HSTS and accepts events', async () => {
      const api = await startApi({ config: tlsConfig() });
      const answer = await httpsCall(api, {
        path: EVENT_PATH,
        method: 'POST',
        body: fixtureText('object.view.duration'),
      });
      expect(answer.status).to.equal(202);
      expect(answer.body).to.include({ status: 'accepted', outcome: 'processed' });
      expect(answer.headers['strict-transport-security']).to.equal('max-age=31536000');
      expect(answer.headers['x-content-type-options']).to.equal('nosniff');
      expect(api.accepted).to.deep.equal([fixture('object.view.duration')]);
    });

    it('refuses a TLSv1.1 client (TLSv1.2 minimum by default)', async () => {
      const api = await startApi({ config: tlsConfig() });
      expect(await handshake(api, { maxVersion: 'TLSv1.2' })).to.equal('TLSv1.2');
      let failure: unknown;
      await handshake(api, {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }).catch((error) => (failure = error));
      // The server's alert, not a client-side refusal to offer TLSv1.1.
      expect(failure).to.have.property('code', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    });

    it('honours minVersion TLSv1.3', async () => {
      const api = await startApi({ config: tlsConfig({ minVersion: 'TLSv1.3' }) });
      expect(await handshake(api, {})).to.equal('TLSv1.3');
      let failure: unknown;
      await handshake(api, { maxVersion: 'TLSv1.2' }).catch((error) => (failure = error));
      expect(failure).to.have.property('code', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    });

    it('with caFile: refuses a client without a certificate, serves one the CA signed', async () => {
      const api = await startApi({ config: tlsConfig({ caFile: file('ca.crt') }) });
      let failure: unknown;
      await httpsCall(api, { path: '/api/v1/test-connection' }).catch((error) => (failure = error));
      // TLS 1.3 finishes the handshake first, so the refusal may surface as a reset.
      expect(failure)
        .to.have.property('code')
        .that.is.oneOf(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ECONNRESET']);

      const answer = await httpsCall(api, {
        path: '/api/v1/test-connection',
        cert: readFileSync(file('client.crt')),
        key: readFileSync(file('client.key')),
      });
      expect(answer.status).to.equal(200);
      expect(answer.body.status).to.equal('ok');
    });
  });
});
