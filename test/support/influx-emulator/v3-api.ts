/** The InfluxDB 3 Core API: health, ping, databases, write_lp and the v2-compatible write. */
import { randomUUID } from 'node:crypto';
import type { WritePrecision } from '../influxd.js';
import {
  decodeBody,
  json,
  parseJsonBody,
  text,
  V3_GZIP_ENCODINGS,
  v2Error,
  v3Error,
  type Reply,
  type RequestContext,
  type Route,
} from './http.js';
import { createDatabaseStatement, findParseErrors, storeKeepingGoodLines } from './influxd-storage.js';
import { prepareLines, splitBodyLines, type LineFailure, type PreparedLine } from './line-protocol.js';
import type { EmulatorState } from './state.js';
import { findColumnTypeConflicts } from './v3-catalog.js';

const V3_VERSION = '3.10.0';
/** `CORE_NUM_DBS_LIMIT` [notes §1.3]. */
export const V3_DATABASE_LIMIT = 5;
/** Created at startup; listed, but not counted toward the limit (influxdb3 `influxdb3_catalog/src/catalog.rs`, `database_count`). */
const V3_INTERNAL_DATABASE = '_internal';
/** Up to 100 rejected lines are listed in a partial-write answer [notes §1.3]. */
const V3_MAX_LISTED_FAILURES = 100;

export const V3_ROUTES: Route[] = [
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
  const decoded = decodeBody(ctx, V3_GZIP_ENCODINGS, state.maxRequestBytes);
  // [v3 http.rs] Error::RequestSizeExceeded → 413, text.
  if ('tooLarge' in decoded) return text(413, v3RequestTooLargeMessage(state));
  if ('error' in decoded) return text(400, decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), params.precision);
  const outcome = await writeV3Lines(state, params.db, lines, params.acceptPartial);
  switch (outcome.kind) {
    case 'written':
      return { status: 204 };
    case 'limit':
      return v3DatabaseLimitReply();
    case 'empty':
      // [v3 http.rs] WriteBufferError::EmptyWrite → 400, text.
      return text(400, 'incoming write was empty');
    case 'refused':
      // [v3 http.rs] Error::PartialLpWrite: `data` an array of up to 100 lines; with
      // accept_partial=false WriteBufferError::ParseError: `data` one object [notes §1.3].
      return params.acceptPartial
        ? v3Error(
            400,
            'partial write of line protocol occurred',
            outcome.failures.slice(0, V3_MAX_LISTED_FAILURES).map(v3LineError),
          )
        : v3Error(400, 'line protocol parsing error', v3LineError(outcome.failures[0]));
  }
}

/**
 * v3's v2-compatible write: all-or-nothing, default precision ns, v2 error shape
 * `{"code","message"}` whose message is the error's text with its `write buffer error: ` prefix
 * ([v3 http.rs] `V2WriteApiError`, `Error::WriteBuffer`; influxdb3
 * `influxdb3_write/src/write_buffer/mod.rs` error texts).
 */
async function v3CompatV2Write(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const bucket = ctx.query.get('bucket');
  // Not verified against 3.x: the message texts of these two 400s (the shape is [v3 http.rs] V2ErrorResponse).
  if (!bucket) return v2Error(400, 'invalid', "missing query parameter 'bucket'");
  const precision = V3_COMPAT_PRECISIONS[ctx.query.get('precision') ?? 'ns'];
  if (!precision)
    return v2Error(400, 'invalid', `invalid precision ${JSON.stringify(ctx.query.get('precision'))}`);
  const invalidName = v3DatabaseNameError(bucket);
  if (invalidName) return v2Error(400, 'invalid', invalidName);
  const decoded = decodeBody(ctx, V3_GZIP_ENCODINGS, state.maxRequestBytes);
  if ('tooLarge' in decoded) return v2Error(413, 'request too large', v3RequestTooLargeMessage(state));
  if ('error' in decoded) return v2Error(400, 'invalid', decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), precision);
  const outcome = await writeV3Lines(state, bucket, lines, false);
  switch (outcome.kind) {
    case 'written':
      return { status: 204 };
    case 'limit':
      // CatalogError::TooManyDbs reaches this endpoint as WriteBufferError::CatalogUpdateError,
      // code `invalid` ([v3 http.rs] `V2WriteApiError::to_code`).
      return v2Error(400, 'invalid', `write buffer error: catalog update error: ${v3DatabaseLimitMessage()}`);
    case 'empty':
      return v2Error(400, 'invalid', 'write buffer error: incoming write was empty');
    case 'refused':
      return v2Error(
        400,
        'invalid',
        `write buffer error: line protocol parse failed: ${outcome.failures[0].message}`,
      );
  }
}

type V3WriteOutcome = { kind: 'written' | 'limit' | 'empty' } | { kind: 'refused'; failures: LineFailure[] };

/**
 * InfluxDB 3's write path (influxdb3 `influxdb3_write/src/write_buffer/mod.rs` `write_lp`,
 * `validator.rs`): a database that does not exist yet must fit under the limit; every line is
 * validated in order, its syntax then its column types; all-or-nothing stops at the first
 * failure, before the database is created or anything written; otherwise the database is
 * created (also when every line failed or there were none) and the valid lines are written.
 */
async function writeV3Lines(
  state: EmulatorState,
  db: string,
  lines: PreparedLine[],
  acceptPartial: boolean,
): Promise<V3WriteOutcome> {
  const exists = state.databases.has(db);
  if (!exists && state.databases.size >= V3_DATABASE_LIMIT) return { kind: 'limit' };
  const invalid = await findInvalidLines(state, exists ? db : undefined, lines, !acceptPartial);
  if (!acceptPartial && invalid.length > 0) return { kind: 'refused', failures: invalid };
  if ((await reserveV3Database(state, db)) === 'limit') return { kind: 'limit' };
  const invalidLines = new Set(invalid.map((failure) => failure.line));
  const valid = lines.filter((line) => !invalidLines.has(line));
  // influxd can still refuse a line for a limit of its own that InfluxDB 3 lacks (max-values-per-tag).
  const refusedByInfluxd = await storeKeepingGoodLines(state.influxd, db, valid);
  state.stats.writtenLines += valid.length - refusedByInfluxd.length;
  const failures = byLineNumber([...invalid, ...refusedByInfluxd]);
  if (failures.length > 0) return { kind: 'refused', failures };
  return { kind: lines.length === 0 ? 'empty' : 'written' };
}

/** Lines that do not parse or whose column types clash, in order; only the first when `firstOnly`. */
async function findInvalidLines(
  state: EmulatorState,
  db: string | undefined,
  lines: PreparedLine[],
  firstOnly: boolean,
): Promise<LineFailure[]> {
  const unparsable = await findParseErrors(state, db, lines);
  const unparsableLines = new Set(unparsable.map((failure) => failure.line));
  const parsed = lines.filter((line) => !unparsableLines.has(line));
  const clashing = await findColumnTypeConflicts(state.influxd, db, parsed, firstOnly);
  const failures = byLineNumber([...unparsable, ...clashing]);
  return firstOnly ? failures.slice(0, 1) : failures;
}

function byLineNumber(failures: LineFailure[]): LineFailure[] {
  return failures.sort((a, b) => a.line.number - b.line.number);
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
export async function reserveV3Database(
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

/** [v3 http.rs] `Error::RequestSizeExceeded`. */
function v3RequestTooLargeMessage(state: EmulatorState): string {
  return `max request size (${state.maxRequestBytes} bytes) exceeded`;
}

/** `CatalogError::TooManyDbs` (influxdb3 `influxdb3_catalog/src/error.rs`). */
function v3DatabaseLimitMessage(): string {
  return `Adding a new database would exceed limit of ${V3_DATABASE_LIMIT} databases`;
}

/** [v3 http.rs] CatalogError::TooManyDbs → 422 `{"error":"..."}` [notes §1.3]. */
function v3DatabaseLimitReply(): Reply {
  return v3Error(422, v3DatabaseLimitMessage());
}
