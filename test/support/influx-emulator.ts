/**
 * InfluxDB v2 and v3 HTTP API emulator for tests (TESTING.md, "The InfluxDB v2/v3 emulator").
 * No 2.x/3.x server can be installed here, so this serves the subset of their HTTP APIs that
 * clients call, over a real TCP socket, and stores every line in a real influxd 1.x
 * (test/support/influxd.ts): each line is parsed and stored by a real InfluxDB engine and can be
 * queried back with `influxd.query(<bucket or database>, ...)`.
 *
 * It is strict, not friendly: wrong tokens, unknown orgs/buckets, bad precisions, bad lines,
 * duplicate buckets/databases and the 5-database limit of InfluxDB 3 Core answer with the
 * status codes and bodies of the real servers. Sources of the shapes, cited below as [notes]:
 * ../shared/reference/influxdb-parquet-buffering-notes.md §1.2 (v2, read from influxdb v2.7.12
 * `http/write_handler.go`, `tenant/*`, `kit/transport/http/error_handler.go`) and §1.3 (v3, read
 * from influxdb3 `influxdb3_server/src/http.rs`); [v2 bucket handler] = influxdb v2
 * `tenant/http_server_bucket.go`; [v3 http.rs] = influxdb3 `influxdb3_server/src/http.rs`
 * (error enums and `IntoResponse` impls).
 *
 * Known differences from the real servers (influxd 1.x is the engine underneath):
 * - Error texts about a line (`error_message`, parse and type-conflict messages) are influxd
 *   1.x's, e.g. `unable to parse '...': missing field value`, not 2.x's/3.x's wording; match
 *   them with `includes`, never equality (the notes advise the same for the real servers).
 * - Field type conflicts are detected per influxd shard (1.x semantics), not per table as in v3.
 * - v3's all-or-nothing paths (`accept_partial=false`, v2-compatible `/api/v2/write`) check
 *   every line's syntax before writing anything, but a field type conflict is only found while
 *   writing: the other lines are then stored although the request answers 400.
 * - v3 has no tag-cardinality limit but influxd has `max-values-per-tag`: start influxd with
 *   `maxValuesPerTag: 0` where a v3 test writes more than 100,000 values of one tag.
 * - A v2 bucket is the influxd database of the same name, so bucket names are unique across
 *   orgs here; system buckets (`_monitoring`, `_tasks`) are not listed.
 * - Lines are split as influxd 1.x splits them (a newline inside a quoted field value does
 *   not end a line); a v3 line without a timestamp gets influxd's ingest time.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { quoteIdentifier, type InfluxdServer, type WriteOutcome, type WritePrecision } from './influxd.js';

// ---------------------------------------------------------------------------------------------
// Public API

export interface InfluxEmulatorOptions {
  version: 2 | 3;
  /** The influxd that stores what is written (one influxd can serve several emulators). */
  influxd: InfluxdServer;
  token: string;
  /** v2: organizations that exist from the start; default `['my-org']`. */
  orgs?: string[];
  /** v3: databases that exist from the start (they count toward the limit of 5). */
  databases?: string[];
}

export interface WriteFault {
  status: 500 | 503 | 429;
  /** Sent as `Retry-After: <seconds>`. */
  retryAfterSeconds?: number;
  /** Response body (an object is sent as JSON); the server's usual body for the status if unset. */
  body?: string | object;
}

export interface EmulatorStats {
  /** Write requests received, faulted ones included. */
  writeRequests: number;
  /** Lines influxd stored (rejected lines and faulted requests excluded). */
  writtenLines: number;
  /** Request body bytes of write requests as received (compressed if gzip). */
  bytes: number;
  /** Write requests with `no_sync=true`. */
  noSyncRequests: number;
  /** Write requests with `Content-Encoding: gzip`. */
  gzipRequests: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The status answered; unset while held or when the connection was dropped. */
  status?: number;
  outcome?: 'answered' | 'held' | 'dropped';
  /** When it arrived (Date.now()), e.g. to check that a client waited as long as Retry-After asked. */
  receivedAt: number;
}

export interface InfluxEmulator {
  readonly url: string;
  readonly port: number;
  readonly version: 2 | 3;
  /** Live counters. */
  readonly stats: Readonly<EmulatorStats>;
  /** Every request received, in order (e.g. to assert that no request had `no_sync=true`). */
  readonly requests: readonly RecordedRequest[];
  /** v2: the ID of an organization. */
  orgId(name: string): string;
  /** The next `count` write requests answer `fault.status` and store nothing. */
  failNextWrites(count: number, fault: WriteFault): void;
  /** The next `count` write requests are never answered (until the client gives up or `stop()`). */
  timeoutNextWrites(count: number): void;
  /** The next `count` write requests have their connection destroyed without an answer. */
  dropNextWrites(count: number): void;
  /** Changes the accepted token (e.g. to fix an auth failure mid-test). */
  setToken(token: string): void;
  /** Closes the server and every connection (held requests too); influxd is left running. */
  stop(): Promise<void>;
}

export async function startInfluxEmulator(options: InfluxEmulatorOptions): Promise<InfluxEmulator> {
  const state = createState(options);
  await createInitialDatabases(state, options.databases ?? []);
  const server = createServer((req, res) => void handleRequest(req, res, state));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return emulatorApi(state, server);
}

// ---------------------------------------------------------------------------------------------
// State

type Fault = { kind: 'fail'; fault: WriteFault } | { kind: 'timeout' } | { kind: 'drop' };

interface V2Org {
  id: string;
  name: string;
  createdAt: string;
}

interface V2Bucket {
  id: string;
  orgID: string;
  name: string;
  description?: string;
  everySeconds: number;
  shardGroupDurationSeconds: number;
  createdAt: string;
}

interface EmulatorState {
  readonly version: 2 | 3;
  readonly influxd: InfluxdServer;
  token: string;
  port: number;
  /** Names scratch databases uniquely. */
  scratchCounter: number;
  readonly stats: EmulatorStats;
  readonly requests: RecordedRequest[];
  readonly faults: Fault[];
  readonly held: Set<ServerResponse>;
  readonly orgs: V2Org[];
  readonly buckets: V2Bucket[];
  /** v3 database name → its creation in influxd (shared by concurrent writers). */
  readonly databases: Map<string, Promise<void>>;
}

const DEFAULT_ORGS = ['my-org'];

function createState(options: InfluxEmulatorOptions): EmulatorState {
  const now = new Date().toISOString();
  return {
    version: options.version,
    influxd: options.influxd,
    token: options.token,
    port: 0,
    scratchCounter: 0,
    stats: { writeRequests: 0, writtenLines: 0, bytes: 0, noSyncRequests: 0, gzipRequests: 0 },
    requests: [],
    faults: [],
    held: new Set(),
    orgs: (options.orgs ?? DEFAULT_ORGS).map((name) => ({ id: newV2Id(), name, createdAt: now })),
    buckets: [],
    databases: new Map(),
  };
}

async function createInitialDatabases(state: EmulatorState, names: string[]): Promise<void> {
  for (const name of names) {
    if ((await reserveV3Database(state, name)) === 'limit') {
      throw new Error(`more than ${V3_DATABASE_LIMIT} databases requested for the v3 emulator`);
    }
  }
}

function emulatorApi(state: EmulatorState, server: Server): InfluxEmulator {
  const queueFaults = (count: number, fault: Fault) => {
    for (let i = 0; i < count; i++) state.faults.push(fault);
  };
  return {
    url: `http://127.0.0.1:${state.port}`,
    port: state.port,
    version: state.version,
    stats: state.stats,
    requests: state.requests,
    orgId: (name) => {
      const org = state.orgs.find((candidate) => candidate.name === name);
      if (!org) throw new Error(`no org named ${name}`);
      return org.id;
    },
    failNextWrites: (count, fault) => queueFaults(count, { kind: 'fail', fault }),
    timeoutNextWrites: (count) => queueFaults(count, { kind: 'timeout' }),
    dropNextWrites: (count) => queueFaults(count, { kind: 'drop' }),
    setToken: (token) => {
      state.token = token;
    },
    stop: () => stopServer(server, state),
  };
}

async function stopServer(server: Server, state: EmulatorState): Promise<void> {
  for (const response of state.held) response.socket?.destroy();
  state.held.clear();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

interface RequestContext {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as received (before any Content-Encoding is undone). */
  body: Buffer;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

type Outcome = Reply | 'hold' | 'drop';

type Handler = (ctx: RequestContext, state: EmulatorState) => Promise<Outcome> | Outcome;

interface Route {
  method: string;
  path: string;
  handler: Handler;
  /** Answers without a token. */
  public?: boolean;
  /** Counts in `stats` and consumes the queued faults. */
  write?: boolean;
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, state: EmulatorState): Promise<void> {
  let ctx: RequestContext;
  try {
    ctx = await readRequest(req);
  } catch {
    res.destroy(); // the client went away while sending
    return;
  }
  const record = recordRequest(ctx, state);
  let outcome: Outcome;
  try {
    outcome = await dispatch(ctx, state);
  } catch (error) {
    outcome = internalError(state.version, error instanceof Error ? error.message : String(error));
  }
  deliver(outcome, res, record, state);
}

async function readRequest(req: IncomingMessage): Promise<RequestContext> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://emulator');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body: Buffer.concat(chunks),
  };
}

function recordRequest(ctx: RequestContext, state: EmulatorState): RecordedRequest {
  const record: RecordedRequest = {
    method: ctx.method,
    path: ctx.path,
    query: Object.fromEntries(ctx.query),
    headers: ctx.headers,
    receivedAt: Date.now(),
  };
  state.requests.push(record);
  return record;
}

/** Order as the servers do it: v3 authenticates before routing, v2 routes first. */
async function dispatch(ctx: RequestContext, state: EmulatorState): Promise<Outcome> {
  const routes = state.version === 2 ? V2_ROUTES : V3_ROUTES;
  const route = routes.find((candidate) => candidate.method === ctx.method && candidate.path === ctx.path);
  if (route?.write) {
    countWrite(ctx, state);
    const fault = state.faults.shift();
    if (fault) return faultOutcome(fault, state.version);
  }
  const authFailure = route?.public ? undefined : checkAuth(ctx, state);
  if (authFailure && (route || state.version === 3)) return authFailure;
  if (!route) return notFound(state.version);
  return route.handler(ctx, state);
}

function deliver(outcome: Outcome, res: ServerResponse, record: RecordedRequest, state: EmulatorState): void {
  if (outcome === 'drop') {
    record.outcome = 'dropped';
    res.socket?.destroy();
  } else if (outcome === 'hold') {
    record.outcome = 'held';
    state.held.add(res);
    res.once('close', () => state.held.delete(res));
  } else {
    record.outcome = 'answered';
    record.status = outcome.status;
    res.writeHead(outcome.status, outcome.headers);
    res.end(outcome.body);
  }
}

function countWrite(ctx: RequestContext, state: EmulatorState): void {
  state.stats.writeRequests += 1;
  state.stats.bytes += ctx.body.length;
  if (V2_GZIP_ENCODINGS.includes(contentEncoding(ctx))) state.stats.gzipRequests += 1;
  if (ctx.query.get('no_sync') === 'true') state.stats.noSyncRequests += 1;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** v2 error body `{"code","message"}` [notes §1.2]; v3's v2-compatible write uses it too [v3 http.rs V2ErrorResponse]. */
function v2Error(status: number, code: string, message: string): Reply {
  return json(status, { code, message });
}

/** v3 error body `{"error"[,"data"]}`, `data` left out when empty [v3 http.rs ErrorMessage]. */
function v3Error(status: number, error: string, data?: unknown): Reply {
  return json(status, data === undefined ? { error } : { error, data });
}

function notFound(version: 2 | 3): Reply {
  return version === 2 ? v2Error(404, 'not found', 'path not found') : text(404, 'not found');
}

function internalError(version: 2 | 3, message: string): Reply {
  return version === 2 ? v2Error(500, 'internal error', message) : text(500, message);
}

/** v2 accepts both names [notes §1.2]; v3 only `gzip` ([v3 http.rs] `read_body`). */
const V2_GZIP_ENCODINGS = ['gzip', 'x-gzip'];
const V3_GZIP_ENCODINGS = ['gzip'];

function contentEncoding(ctx: RequestContext): string {
  return (ctx.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/** The body with its Content-Encoding undone, or the reason it cannot be. */
function decodeBody(ctx: RequestContext, acceptedGzipNames: string[]): { text: string } | { error: string } {
  const encoding = contentEncoding(ctx);
  if (encoding === 'identity') return { text: ctx.body.toString('utf8') };
  if (!acceptedGzipNames.includes(encoding)) return { error: `unacceptable content-encoding: ${encoding}` };
  try {
    return { text: gunzipSync(ctx.body).toString('utf8') };
  } catch (error) {
    return { error: `error decoding gzip stream: ${(error as Error).message}` };
  }
}

function parseJsonBody(ctx: RequestContext): { value: Record<string, unknown> } | { error: string } {
  try {
    const value: unknown = JSON.parse(ctx.body.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { error: 'expected a JSON object' };
    return { value: value as Record<string, unknown> };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication and faults

/** v2 accepts `Authorization: Token <t>` only. v3 accepts Bearer, Token and Basic (password = token). */
function checkAuth(ctx: RequestContext, state: EmulatorState): Reply | undefined {
  const presented = presentedToken(ctx.headers.authorization, state.version);
  if (presented === state.token) return undefined;
  if (state.version === 2) {
    // [notes §1.2]: 401 `unauthorized`; the message is the one 2.x sends for a bad token.
    return v2Error(401, 'unauthorized', 'unauthorized access');
  }
  if (presented === MALFORMED) {
    // [v3 http.rs] AuthenticationError::MalformedRequest → 400, body written as `{"error": "..."}`.
    return v3Error(
      400,
      "Authorization header was malformed, the request was not in the form of 'Authorization: <auth-scheme> <token>', supported auth-schemes are Bearer, Token and Basic",
    );
  }
  // [v3 http.rs] AuthenticationError::Unauthenticated → 401 `{"error": "the request was not authenticated"}`,
  // for every path, the v2-compatible write included [notes §1.3].
  return v3Error(401, 'the request was not authenticated');
}

const MALFORMED = Symbol('malformed authorization header');

function presentedToken(header: string | undefined, version: 2 | 3): string | typeof MALFORMED | undefined {
  if (!header) return undefined;
  const [scheme, credentials, ...rest] = header.trim().split(/\s+/);
  if (version === 2) return scheme === 'Token' && rest.length === 0 ? credentials : undefined;
  if (!credentials || rest.length > 0) return MALFORMED;
  if (scheme === 'Bearer' || scheme === 'Token') return credentials;
  if (scheme === 'Basic') return Buffer.from(credentials, 'base64').toString('utf8').split(':')[1];
  return MALFORMED;
}

function faultOutcome(fault: Fault, version: 2 | 3): Outcome {
  if (fault.kind !== 'fail') return fault.kind === 'timeout' ? 'hold' : 'drop';
  const { status, retryAfterSeconds, body } = fault.fault;
  const headers: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  if (typeof body === 'string') return text(status, body, headers);
  if (body !== undefined) return json(status, body, headers);
  return version === 2
    ? json(status, V2_FAULT_BODIES[status], headers)
    : text(status, V3_FAULT_BODIES[status], headers);
}

/** Codes from the v2 status table [notes §1.2]. */
const V2_FAULT_BODIES: Record<WriteFault['status'], { code: string; message: string }> = {
  429: { code: 'too many requests', message: 'too many requests' },
  500: { code: 'internal error', message: 'unexpected error writing points to database' },
  503: { code: 'unavailable', message: 'service temporarily unavailable' },
};

/** v3 answers these statuses with plain text [notes §1.3; v3 http.rs]. */
const V3_FAULT_BODIES: Record<WriteFault['status'], string> = {
  429: 'this service is overloaded, please try again later',
  500: 'internal error',
  503: 'service temporarily unavailable',
};

// ---------------------------------------------------------------------------------------------
// Line protocol: splitting and timestamps (only what forwarding needs; influxd does the parsing)

interface BodyLine {
  /** 1-based, counting every line of the body, as v3 numbers `line_number`. */
  number: number;
  text: string;
}

interface PreparedLine extends BodyLine {
  precision: WritePrecision;
  hasTimestamp: boolean;
}

interface LineFailure {
  line: BodyLine;
  message: string;
}

/** Splits a body into its non-blank, non-comment lines the way influxd 1.x does (`models.scanLine`). */
function splitBodyLines(body: string): BodyLine[] {
  const lines: BodyLine[] = [];
  for (let start = 0, number = 1; start < body.length; number++) {
    const end = endOfLine(body, start);
    const text = body.slice(start, end);
    if (!isBlankOrComment(text)) lines.push({ number, text });
    start = end + 1;
  }
  return lines;
}

/** Index of the newline ending the line at `start` (or the body's length). */
function endOfLine(body: string, start: number): number {
  for (const { index, char, quoted } of scanCharacters(body, start)) {
    if (char === '\n' && !quoted) return index;
  }
  return body.length;
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.replace(/^[ \t]+/, '');
  return trimmed === '' || trimmed.startsWith('#');
}

/** The timestamp section of a line: what follows the unquoted, unescaped space after the fields. */
function timestampOf(line: string): string | undefined {
  const trimmed = line.replace(/^[ \t]+/, '');
  let sections = 1;
  let lastSeparator = -2;
  for (const { index, char, quoted } of scanCharacters(trimmed)) {
    if (char !== ' ' || quoted) continue;
    const sameRun = index === lastSeparator + 1; // influxd skips runs of spaces between sections
    lastSeparator = index;
    if (!sameRun && ++sections === 3) return trimmed.slice(index + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * Walks line protocol as influxd 1.x's `models.scanLine` does, yielding every character that is
 * not escaped, with whether it lies inside a quoted string field value (where spaces and
 * newlines do not end anything). A quote opens or closes a value only after a field's `=`.
 */
function* scanCharacters(
  text: string,
  start = 0,
): Generator<{ index: number; char: string; quoted: boolean }> {
  let inFields = false;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (char === '\\' && index + 2 < text.length) {
      index++;
      continue;
    }
    if (char === ' ' && !quoted) inFields = true;
    if (inFields && !quoted && char === '=') equals++;
    else if (inFields && !quoted && char === ',') commas++;
    else if (inFields && char === '"' && equals > commas) quoted = !quoted;
    yield { index, char, quoted };
  }
}

/** v3 `precision=auto`: < 5e9 seconds, < 5e12 ms, < 5e15 µs, else ns [notes §1.3, from the v3 OpenAPI]. */
function autoPrecision(timestamp: string | undefined): WritePrecision {
  if (timestamp === undefined || !/^-?\d+$/.test(timestamp)) return 'n';
  const magnitude = BigInt(timestamp.replace('-', ''));
  if (magnitude < 5_000_000_000n) return 's';
  if (magnitude < 5_000_000_000_000n) return 'ms';
  if (magnitude < 5_000_000_000_000_000n) return 'u';
  return 'n';
}

function prepareLines(lines: BodyLine[], precision: WritePrecision | 'auto'): PreparedLine[] {
  return lines.map((line) => {
    const timestamp = timestampOf(line.text);
    return {
      ...line,
      hasTimestamp: timestamp !== undefined,
      precision: precision === 'auto' ? autoPrecision(timestamp) : precision,
    };
  });
}

/** Consecutive lines of equal precision, so that each run is one influxd request. */
function runsOfSamePrecision(lines: PreparedLine[]): PreparedLine[][] {
  const runs: PreparedLine[][] = [];
  for (const line of lines) {
    const current = runs.at(-1);
    if (current && current[0].precision === line.precision) current.push(line);
    else runs.push([line]);
  }
  return runs;
}

function joinLines(lines: BodyLine[]): string {
  return lines.map((line) => line.text).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Storing in influxd

/** A retention policy that never exists: influxd parses the body, then fails on the RP, storing nothing. */
const PARSE_CHECK_RP = 'emulator-parse-check-no-such-rp';

/**
 * Writes the lines, keeping the good ones when some fail (influxd's own behaviour), and finds
 * which failed: after a refused batch each timestamped line is sent again alone, in order, which
 * is idempotent for stored lines (same series and time overwrite the same values) and fails
 * again for refused ones. A line without timestamp would be stored twice, so it is only
 * parse-checked.
 */
async function storeKeepingGoodLines(
  influxd: InfluxdServer,
  db: string,
  lines: PreparedLine[],
): Promise<LineFailure[]> {
  const failures: LineFailure[] = [];
  for (const run of runsOfSamePrecision(lines)) {
    const outcome = await influxd.write(db, joinLines(run), run[0].precision);
    if (outcome.status === 204) continue;
    if (outcome.status !== 400) throw unexpectedInfluxdAnswer(outcome);
    const recheck = (line: PreparedLine) =>
      line.hasTimestamp ? writeAloneError(influxd, db, line) : parseError(influxd, db, line);
    failures.push(...(await collectFailures(run, recheck)));
  }
  return failures;
}

/** Below this many lines, checking each line alone is cheaper than a scratch database. */
const SCRATCH_CHECK_MIN_LINES = 32;
/** Parse checks store nothing, so they can run side by side. */
const PARALLEL_PARSE_CHECKS = 8;

/**
 * Syntax errors of the lines, storing nothing. A big batch first goes whole to a fresh scratch
 * database (one request); only if influxd refuses something there, or the batch is small, is
 * each line checked alone.
 */
async function findParseErrors(
  state: EmulatorState,
  db: string,
  lines: PreparedLine[],
): Promise<LineFailure[]> {
  if (lines.length >= SCRATCH_CHECK_MIN_LINES && (await allLinesStoreInScratch(state, lines))) return [];
  return collectFailures(lines, (line) => parseError(state.influxd, db, line), PARALLEL_PARSE_CHECKS);
}

/** Runs `check` on the lines, `concurrency` at a time; the lines it names an error for, in order. */
async function collectFailures(
  lines: PreparedLine[],
  check: (line: PreparedLine) => Promise<string | undefined>,
  concurrency = 1,
): Promise<LineFailure[]> {
  const messages: (string | undefined)[] = [];
  for (let index = 0; index < lines.length; index += concurrency) {
    messages.push(...(await Promise.all(lines.slice(index, index + concurrency).map(check))));
  }
  return lines.flatMap((line, index) => {
    const message = messages[index];
    return message === undefined ? [] : [{ line, message }];
  });
}

async function allLinesStoreInScratch(state: EmulatorState, lines: PreparedLine[]): Promise<boolean> {
  state.scratchCounter += 1;
  const scratch = `_emulator_scratch_${state.port}_${state.scratchCounter}`;
  await state.influxd.ddl(createDatabaseStatement(scratch));
  try {
    for (const run of runsOfSamePrecision(lines)) {
      const outcome = await state.influxd.write(scratch, joinLines(run), run[0].precision);
      if (outcome.status !== 204) return false;
    }
    return true;
  } finally {
    await state.influxd.ddl(`DROP DATABASE ${quoteIdentifier(scratch)}`);
  }
}

async function writeAloneError(
  influxd: InfluxdServer,
  db: string,
  line: PreparedLine,
): Promise<string | undefined> {
  const outcome = await influxd.write(db, line.text, line.precision);
  if (outcome.status === 204) return undefined;
  if (outcome.status === 400) return outcome.error;
  throw unexpectedInfluxdAnswer(outcome);
}

/** The database must exist: influxd checks it before parsing. */
async function parseError(
  influxd: InfluxdServer,
  db: string,
  line: PreparedLine,
): Promise<string | undefined> {
  const outcome = await influxd.write(db, line.text, line.precision, { rp: PARSE_CHECK_RP });
  if (outcome.status === 400) return outcome.error;
  if (outcome.status === 500 && outcome.error?.includes('retention policy not found')) return undefined;
  throw unexpectedInfluxdAnswer(outcome);
}

function unexpectedInfluxdAnswer(outcome: WriteOutcome): Error {
  return new Error(`influxd answered ${outcome.status}: ${outcome.error ?? ''}`);
}

/** `dropped=N` of an influxd partial-write error (`tsdb.PartialWriteError`). */
function droppedPoints(error: string | undefined): number {
  return Number(/dropped=(\d+)/.exec(error ?? '')?.[1] ?? 0);
}

/** `CREATE DATABASE` whose default retention policy keeps data `durationSeconds` (INF when 0 or unset). */
function createDatabaseStatement(name: string, durationSeconds?: number): string {
  const duration = durationSeconds ? ` WITH DURATION ${durationSeconds}s` : '';
  return `CREATE DATABASE ${quoteIdentifier(name)}${duration}`;
}

// ---------------------------------------------------------------------------------------------
// InfluxDB v2 OSS

const V2_VERSION = 'v2.7.12';

const V2_ROUTES: Route[] = [
  { method: 'GET', path: '/ping', public: true, handler: v2Ping },
  { method: 'HEAD', path: '/ping', public: true, handler: v2Ping },
  { method: 'GET', path: '/health', public: true, handler: v2Health },
  { method: 'GET', path: '/api/v2/orgs', handler: v2GetOrgs },
  { method: 'GET', path: '/api/v2/buckets', handler: v2GetBuckets },
  { method: 'POST', path: '/api/v2/buckets', handler: v2PostBucket },
  { method: 'POST', path: '/api/v2/write', write: true, handler: v2Write },
];

/** `precision` → influxd's; only these four are valid [notes §1.2, `models.ValidPrecision`]. */
const V2_PRECISIONS: Record<string, WritePrecision> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

/** [notes §1.2]: 204 with the build and version headers. */
function v2Ping(): Reply {
  return { status: 204, headers: { 'x-influxdb-build': 'OSS', 'x-influxdb-version': V2_VERSION } };
}

/** [notes §1.2] `GET /health`. */
function v2Health(): Reply {
  return json(200, {
    name: 'influxdb',
    message: 'ready for queries and writes',
    status: 'pass',
    checks: [],
    version: V2_VERSION,
    commit: 'emulator',
  });
}

function v2GetOrgs(ctx: RequestContext, state: EmulatorState): Reply {
  const found = findOrgFromQuery(ctx.query, state);
  if ('reply' in found) return found.reply;
  const orgs = found.org ? [found.org] : state.orgs;
  return json(200, { links: { self: '/api/v2/orgs' }, orgs: orgs.map(orgJson) });
}

/** Like [v2 bucket handler] `handleGetBuckets`, but a name that matches nothing is a 404 [notes §1.2]. */
function v2GetBuckets(ctx: RequestContext, state: EmulatorState): Reply {
  const found = findOrgFromQuery(ctx.query, state);
  if ('reply' in found) return found.reply;
  const name = ctx.query.get('name');
  const buckets = state.buckets.filter(
    (bucket) => (!found.org || bucket.orgID === found.org.id) && (!name || bucket.name === name),
  );
  if (name && buckets.length === 0) return v2Error(404, 'not found', `bucket "${name}" not found`);
  return json(200, { links: { self: '/api/v2/buckets' }, buckets: buckets.map(bucketJson) });
}

/** [v2 bucket handler] `handlePostBucket` + `postBucketRequest.OK`; conflict text from `kv` `BucketAlreadyExistsError`. */
async function v2PostBucket(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const parsed = parseJsonBody(ctx);
  if ('error' in parsed) return v2Error(400, 'invalid', `failed to decode request body: ${parsed.error}`);
  const request = parsed.value;
  const invalid = validateBucketRequest(request);
  if (invalid) return invalid;
  const org = state.orgs.find((candidate) => candidate.id === request.orgID);
  if (!org) return v2Error(404, 'not found', 'organization not found');
  const name = String(request.name);
  if (state.buckets.some((bucket) => bucket.name === name))
    return v2Error(422, 'conflict', `bucket with name ${name} already exists`);
  const rule = (request.retentionRules as RetentionRuleRequest[] | undefined)?.[0];
  const bucket: V2Bucket = {
    id: newV2Id(),
    orgID: org.id,
    name,
    description:
      typeof request.description === 'string' && request.description !== '' ? request.description : undefined,
    everySeconds: rule?.everySeconds ?? 0,
    shardGroupDurationSeconds: rule?.shardGroupDurationSeconds ?? 0,
    createdAt: new Date().toISOString(),
  };
  const refused = await createBucketDatabase(state.influxd, bucket);
  if (refused) return refused;
  state.buckets.push(bucket);
  return json(201, bucketJson(bucket));
}

interface RetentionRuleRequest {
  type?: string;
  everySeconds?: number;
  shardGroupDurationSeconds?: number;
}

function validateBucketRequest(request: Record<string, unknown>): Reply | undefined {
  if (typeof request.orgID !== 'string' || !isV2Id(request.orgID))
    return v2Error(400, 'invalid', 'organization id must be provided');
  const rules = request.retentionRules;
  if (rules !== undefined && !Array.isArray(rules))
    return v2Error(400, 'invalid', 'retentionRules must be an array');
  const unprocessable = (message: string) => v2Error(422, 'unprocessable entity', message);
  if (rules && rules.length > 1)
    return unprocessable('buckets cannot have more than one retention rule at this time');
  const rule = rules?.[0] as RetentionRuleRequest | undefined;
  if (rule && (rule.everySeconds ?? 0) < 0) return unprocessable('expiration seconds cannot be negative');
  if (rule && (rule.shardGroupDurationSeconds ?? 0) < 0)
    return unprocessable('shard-group duration seconds cannot be negative');
  // Not verified against 2.x: the text for a missing name (the shape is the standard one).
  if (typeof request.name !== 'string' || request.name === '')
    return v2Error(400, 'invalid', 'bucket name is required');
  return undefined;
}

/**
 * The bucket's database with its retention as the default policy, so it is real and visible in
 * SHOW RETENTION POLICIES. influxd refuses durations under 1 h, like the 2.x engine (same meta
 * code); that answer's status (422 here) is not verified against 2.x.
 */
async function createBucketDatabase(influxd: InfluxdServer, bucket: V2Bucket): Promise<Reply | undefined> {
  try {
    await influxd.ddl(createDatabaseStatement(bucket.name, bucket.everySeconds));
    return undefined;
  } catch (error) {
    return v2Error(422, 'unprocessable entity', (error as Error).message);
  }
}

/** [notes §1.2; v2.7.12 `http/write_handler.go`]. */
async function v2Write(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const precision = V2_PRECISIONS[ctx.query.get('precision') ?? 'ns'];
  if (!precision)
    return v2Error(400, 'invalid', 'invalid precision; valid precision units are ns, us, ms, and s');
  // OSS needs `org` or `orgID` on writes [notes §1.2].
  const found = findOrgFromQuery(ctx.query, state, true);
  if ('reply' in found) return found.reply;
  const bucket = findWriteBucket(ctx.query.get('bucket'), found.org as V2Org, state);
  if ('reply' in bucket) return bucket.reply;
  const decoded = decodeBody(ctx, V2_GZIP_ENCODINGS);
  if ('error' in decoded) return v2Error(400, 'invalid', decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), precision);
  if (lines.length === 0) return { status: 204 };
  // 2.x rejects the whole batch on a syntax error [notes §1.2, troubleshoot docs].
  const [firstBadLine] = await findParseErrors(state, bucket.bucket.name, lines);
  if (firstBadLine) return v2Error(400, 'invalid', firstBadLine.message);
  return forwardV2Batch(state, bucket.bucket.name, decoded.text, precision, lines.length);
}

/** Type conflicts, max-values-per-tag and points outside the RP are partial writes: 422, the rest stored [notes §1.2]. */
async function forwardV2Batch(
  state: EmulatorState,
  db: string,
  body: string,
  precision: WritePrecision,
  lineCount: number,
): Promise<Reply> {
  const outcome = await state.influxd.write(db, body, precision);
  if (outcome.status === 204) {
    state.stats.writtenLines += lineCount;
    return { status: 204 };
  }
  if (outcome.status === 400 && outcome.error?.startsWith('partial write')) {
    state.stats.writtenLines += lineCount - droppedPoints(outcome.error);
    return v2Error(422, 'unprocessable entity', `failure writing points to database: ${outcome.error}`);
  }
  if (outcome.status === 400) return v2Error(400, 'invalid', outcome.error ?? 'invalid');
  return v2Error(500, 'internal error', 'unexpected error writing points to database');
}

/** `org` may be a name or an ID, `orgID` only an ID (2.x `queryOrganization`; texts from `tenant/error_org.go` [notes §1.2]). */
function findOrgFromQuery(
  query: URLSearchParams,
  state: EmulatorState,
  required = false,
): { org?: V2Org } | { reply: Reply } {
  const orgId = query.get('orgID');
  const orgName = query.get('org');
  if (orgId) {
    if (!isV2Id(orgId)) return { reply: v2Error(400, 'invalid', 'id must have a length of 16 bytes') };
    const org = state.orgs.find((candidate) => candidate.id === orgId);
    return org ? { org } : { reply: v2Error(404, 'not found', 'organization not found') };
  }
  if (orgName) {
    const org = state.orgs.find((candidate) => candidate.name === orgName || candidate.id === orgName);
    return org ? { org } : { reply: v2Error(404, 'not found', `organization name "${orgName}" not found`) };
  }
  // Text from 2.x `ErrInvalidOrgFilter` (influxdb v2 `organization.go`).
  return required ? { reply: v2Error(400, 'invalid', 'Please provide either orgID or org') } : {};
}

/** `bucket` is a name or an ID of a bucket of the org [notes §1.2: empty → 404 `bucket not found`]. */
function findWriteBucket(
  nameOrId: string | null,
  org: V2Org,
  state: EmulatorState,
): { bucket: V2Bucket } | { reply: Reply } {
  if (!nameOrId) return { reply: v2Error(404, 'not found', 'bucket not found') };
  const bucket = state.buckets.find(
    (candidate) => candidate.orgID === org.id && (candidate.name === nameOrId || candidate.id === nameOrId),
  );
  return bucket ? { bucket } : { reply: v2Error(404, 'not found', `bucket "${nameOrId}" not found`) };
}

/** Organization as `GET /api/v2/orgs` lists it [notes §1.2]. */
function orgJson(org: V2Org): Record<string, unknown> {
  return {
    links: { self: `/api/v2/orgs/${org.id}`, buckets: `/api/v2/buckets?org=${encodeURIComponent(org.name)}` },
    id: org.id,
    name: org.name,
    description: '',
    status: 'active',
    createdAt: org.createdAt,
    updatedAt: org.createdAt,
  };
}

/** [v2 bucket handler] `NewBucketResponse`: no rule listed for infinite retention; `description` omitted when empty. */
function bucketJson(bucket: V2Bucket): Record<string, unknown> {
  const hasRule = bucket.everySeconds > 0 || bucket.shardGroupDurationSeconds > 0;
  return {
    id: bucket.id,
    orgID: bucket.orgID,
    type: 'user',
    ...(bucket.description === undefined ? {} : { description: bucket.description }),
    name: bucket.name,
    retentionRules: hasRule
      ? [
          {
            type: 'expire',
            everySeconds: bucket.everySeconds,
            shardGroupDurationSeconds: bucket.shardGroupDurationSeconds,
          },
        ]
      : [],
    createdAt: bucket.createdAt,
    updatedAt: bucket.createdAt,
    links: {
      self: `/api/v2/buckets/${bucket.id}`,
      org: `/api/v2/orgs/${bucket.orgID}`,
      write: `/api/v2/write?org=${bucket.orgID}&bucket=${bucket.id}`,
    },
    labels: [],
  };
}

/** 2.x IDs: 16 lowercase hex digits. */
function newV2Id(): string {
  return randomBytes(8).toString('hex');
}

function isV2Id(value: string): boolean {
  return /^[0-9a-f]{16}$/.test(value);
}

// ---------------------------------------------------------------------------------------------
// InfluxDB 3 Core

const V3_VERSION = '3.10.0';
/** `CORE_NUM_DBS_LIMIT` [notes §1.3]. */
const V3_DATABASE_LIMIT = 5;
/** Created at startup; listed, but not counted toward the limit (influxdb3 `influxdb3_catalog/src/catalog.rs`, `database_count`). */
const V3_INTERNAL_DATABASE = '_internal';
/** Up to 100 rejected lines are listed in a partial-write answer [notes §1.3]. */
const V3_MAX_LISTED_FAILURES = 100;

const V3_ROUTES: Route[] = [
  { method: 'GET', path: '/health', handler: v3Health },
  { method: 'GET', path: '/api/v1/health', handler: v3Health },
  { method: 'GET', path: '/ping', handler: v3Ping },
  { method: 'POST', path: '/ping', handler: v3Ping },
  { method: 'GET', path: '/api/v3/configure/database', handler: v3ListDatabases },
  { method: 'POST', path: '/api/v3/configure/database', handler: v3CreateDatabase },
  { method: 'POST', path: '/api/v3/write_lp', write: true, handler: v3WriteLp },
  { method: 'POST', path: '/api/v2/write', write: true, handler: v3CompatV2Write },
];

/** `precision` of write_lp with its aliases [notes §1.3, `influxdb3_types/src/write.rs`]. */
const V3_PRECISIONS: Record<string, WritePrecision | 'auto'> = {
  auto: 'auto',
  second: 's',
  s: 's',
  millisecond: 'ms',
  ms: 'ms',
  microsecond: 'u',
  us: 'u',
  u: 'u',
  nanosecond: 'n',
  ns: 'n',
  n: 'n',
};

/** The compatibility endpoints: no `auto`, default nanoseconds [notes §1.3]. */
const V3_COMPAT_PRECISIONS: Record<string, WritePrecision> = {
  s: 's',
  ms: 'ms',
  us: 'u',
  u: 'u',
  ns: 'n',
  n: 'n',
};

/** [v3 http.rs] `health`: 200 text `OK`, behind authentication like every v3 path [notes §1.3]. */
function v3Health(): Reply {
  return text(200, 'OK');
}

/** [v3 http.rs] `ping`: JSON `{version, revision, process_id}` plus build headers; HEAD is not routed (404). */
function v3Ping(): Reply {
  return json(
    200,
    { version: V3_VERSION, revision: 'emulator', process_id: randomUUID() },
    { 'x-influxdb-build': 'Core', 'x-influxdb-version': V3_VERSION },
  );
}

/**
 * `GET /api/v3/configure/database?format=` (format required). The server streams the record
 * batch of `show_databases`, one column `iox::database` (influxdb3
 * `influxdb3_server/src/query_executor/mod.rs`); docs-v2
 * `content/shared/influxdb3-admin/databases/list.md` shows the same JSON:
 * `[{"iox::database":"home"},...]` (that page's "Response" example with `db`/`retention_period`
 * keys does not match the server code). Sorted by name, `_internal` included.
 */
function v3ListDatabases(ctx: RequestContext, state: EmulatorState): Reply {
  const format = ctx.query.get('format');
  const names = [V3_INTERNAL_DATABASE, ...state.databases.keys()].sort();
  const rows = names.map((name) => ({ 'iox::database': name }));
  switch (format) {
    case 'json':
      return json(200, rows);
    case 'jsonl':
      return {
        status: 200,
        headers: { 'content-type': 'application/jsonl' },
        body: rows.map((row) => `${JSON.stringify(row)}\n`).join(''),
      };
    case 'csv':
      return {
        status: 200,
        headers: { 'content-type': 'text/csv' },
        body: ['iox::database', ...names].join('\n') + '\n',
      };
    case 'pretty':
    case 'parquet':
      return text(501, `format=${format} is not implemented by the emulator`);
    case null:
      return text(400, 'serde error: missing field `format`');
    default:
      return text(
        400,
        `serde error: unknown variant \`${format}\`, expected one of \`pretty\`, \`json\`, \`jsonl\`, \`csv\`, \`parquet\``,
      );
  }
}

/** `POST /api/v3/configure/database {db, retention_period?}` → 200 empty; 409 if it exists [notes §1.3]. */
async function v3CreateDatabase(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const parsed = parseJsonBody(ctx);
  if ('error' in parsed) return text(400, `serde json error: ${parsed.error}`);
  const { db, retention_period: retentionPeriod } = parsed.value;
  if (typeof db !== 'string') return text(400, 'serde json error: missing field `db`');
  const invalidName = v3DatabaseNameError(db);
  if (invalidName) return v3Error(400, invalidName);
  const retentionSeconds = v3RetentionSeconds(retentionPeriod);
  if (retentionSeconds === 'invalid')
    return text(400, `serde json error: invalid retention_period ${JSON.stringify(retentionPeriod)}`);
  if (state.databases.has(db)) return text(409, 'attempted to create a resource that already exists');
  const reserved = await reserveV3Database(state, db, retentionSeconds);
  return reserved === 'limit' ? v3DatabaseLimitReply() : { status: 200 };
}

/**
 * `POST /api/v3/write_lp` [v3 http.rs `write_lp_inner`; notes §1.3]: the database is created on
 * first write; `accept_partial` (default true) keeps the good lines and lists the bad ones.
 */
async function v3WriteLp(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const params = v3WriteParams(ctx.query);
  if ('reply' in params) return params.reply;
  const invalidName = v3DatabaseNameError(params.db);
  if (invalidName) return v3Error(400, invalidName);
  const decoded = decodeBody(ctx, V3_GZIP_ENCODINGS);
  if ('error' in decoded) return text(400, decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), params.precision);
  if (lines.length === 0) return text(400, 'incoming write was empty');
  if ((await reserveV3Database(state, params.db)) === 'limit') return v3DatabaseLimitReply();
  return params.acceptPartial
    ? writeLpKeepingGoodLines(state, params.db, lines)
    : writeLpAllOrNothing(state, params.db, lines);
}

async function writeLpKeepingGoodLines(
  state: EmulatorState,
  db: string,
  lines: PreparedLine[],
): Promise<Reply> {
  const failures = await storeKeepingGoodLines(state.influxd, db, lines);
  state.stats.writtenLines += lines.length - failures.length;
  if (failures.length === 0) return { status: 204 };
  return v3Error(
    400,
    'partial write of line protocol occurred',
    failures.slice(0, V3_MAX_LISTED_FAILURES).map(v3LineError),
  );
}

/** `accept_partial=false`: nothing written if a line fails; `data` is one object, not an array [notes §1.3, Core 3.10 text]. */
async function writeLpAllOrNothing(state: EmulatorState, db: string, lines: PreparedLine[]): Promise<Reply> {
  const failure = await storeAllOrNothing(state, db, lines);
  return failure ? v3Error(400, 'line protocol parsing error', v3LineError(failure)) : { status: 204 };
}

/** v3's v2-compatible write: all-or-nothing, default precision ns, v2 error shape [notes §1.3]. */
async function v3CompatV2Write(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const bucket = ctx.query.get('bucket');
  // Not verified against 3.x: the message texts of these two 400s (the shape is [v3 http.rs] V2ErrorResponse).
  if (!bucket) return v2Error(400, 'invalid', "missing query parameter 'bucket'");
  const precision = V3_COMPAT_PRECISIONS[ctx.query.get('precision') ?? 'ns'];
  if (!precision)
    return v2Error(400, 'invalid', `invalid precision ${JSON.stringify(ctx.query.get('precision'))}`);
  const invalidName = v3DatabaseNameError(bucket);
  if (invalidName) return v2Error(400, 'invalid', invalidName);
  const decoded = decodeBody(ctx, V3_GZIP_ENCODINGS);
  if ('error' in decoded) return v2Error(400, 'invalid', decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), precision);
  if (lines.length === 0) return v2Error(400, 'invalid', 'write buffer error: incoming write was empty');
  // TooManyDbs is code `invalid` on this endpoint ([v3 http.rs] `V2WriteApiError::to_code`).
  if ((await reserveV3Database(state, bucket)) === 'limit')
    return v2Error(400, 'invalid', v3DatabaseLimitMessage());
  const failure = await storeAllOrNothing(state, bucket, lines);
  if (failure)
    return v2Error(400, 'invalid', `write buffer error: line protocol parse failed: ${failure.message}`);
  return { status: 204 };
}

/** Checks every line's syntax first; the first failure, or undefined when all were stored. */
async function storeAllOrNothing(
  state: EmulatorState,
  db: string,
  lines: PreparedLine[],
): Promise<LineFailure | undefined> {
  const [firstParseError] = await findParseErrors(state, db, lines);
  if (firstParseError) return firstParseError;
  const failures = await storeKeepingGoodLines(state.influxd, db, lines);
  state.stats.writtenLines += lines.length - failures.length;
  return failures[0];
}

interface V3WriteParams {
  db: string;
  precision: WritePrecision | 'auto';
  acceptPartial: boolean;
}

/** Query parameters of write_lp; texts of [v3 http.rs] `MissingWriteParams` and serde errors. */
function v3WriteParams(query: URLSearchParams): V3WriteParams | { reply: Reply } {
  const db = query.get('db');
  if (db === null) return { reply: text(400, "missing query parameter 'db'") };
  const precision = V3_PRECISIONS[query.get('precision') ?? 'auto'];
  if (!precision)
    return { reply: text(400, `serde error: unknown variant \`${query.get('precision')}\` for precision`) };
  for (const flag of ['accept_partial', 'no_sync']) {
    const value = query.get(flag);
    if (value !== null && value !== 'true' && value !== 'false')
      return { reply: text(400, `serde error: invalid value for ${flag}: ${value}`) };
  }
  return { db, precision, acceptPartial: query.get('accept_partial') !== 'false' };
}

function v3LineError(failure: LineFailure): Record<string, unknown> {
  return {
    original_line: failure.line.text,
    line_number: failure.line.number,
    error_message: failure.message,
  };
}

/** `validate_db_name` rules and texts [notes §1.3, `http.rs:2301-2353`]. */
function v3DatabaseNameError(name: string): string | undefined {
  if (name === '') return 'db name cannot be empty';
  if (!/^[A-Za-z0-9]/.test(name)) return 'db name did not start with a number or letter';
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]*)?$/.test(name)) {
    return 'invalid character in database or rp name: must be ASCII, containing only letters, numbers, underscores, or hyphens';
  }
  return undefined;
}

/**
 * `retention_period` in seconds: `<n>h|d|w|mo|y` (mo = 30 d, y = 365 d), `none` = infinite
 * [notes §1.3, from docs-v2 data-retention.md]. A period under 1 h (e.g. `0d`, "immediately
 * expired") cannot be modelled by influxd and is refused.
 */
function v3RetentionSeconds(value: unknown): number | undefined | 'invalid' {
  if (value === undefined || value === null || value === 'none') return undefined;
  const match = typeof value === 'string' ? /^(\d+)(h|d|w|mo|y)$/.exec(value) : null;
  if (!match) return 'invalid';
  const hours =
    Number(match[1]) * { h: 1, d: 24, w: 168, mo: 720, y: 8760 }[match[2] as 'h' | 'd' | 'w' | 'mo' | 'y'];
  return hours >= 1 ? hours * 3600 : 'invalid';
}

/**
 * Registers a v3 database and creates it in influxd, unless it exists; 'limit' when it would be
 * the 6th. The registration is synchronous, so concurrent first writes create it once.
 */
async function reserveV3Database(
  state: EmulatorState,
  name: string,
  retentionSeconds?: number,
): Promise<'ok' | 'limit'> {
  const existing = state.databases.get(name);
  if (existing) {
    await existing;
    return 'ok';
  }
  if (state.databases.size >= V3_DATABASE_LIMIT) return 'limit';
  const creation = state.influxd.ddl(createDatabaseStatement(name, retentionSeconds));
  state.databases.set(name, creation);
  try {
    await creation;
    return 'ok';
  } catch (error) {
    state.databases.delete(name);
    throw error;
  }
}

function v3DatabaseLimitMessage(): string {
  return `Adding a new database would exceed limit of ${V3_DATABASE_LIMIT} databases`;
}

/** [v3 http.rs] CatalogError::TooManyDbs → 422 `{"error":"..."}` [notes §1.3]. */
function v3DatabaseLimitReply(): Reply {
  return v3Error(422, v3DatabaseLimitMessage());
}
