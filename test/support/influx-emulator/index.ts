/**
 * InfluxDB v2 and v3 HTTP API emulator for tests (docs/testing.md, "The InfluxDB v2/v3 emulator").
 * No 2.x/3.x server can be installed here, so this serves the subset of their HTTP APIs that
 * clients call, over a real TCP socket, and stores every line in a real influxd 1.x
 * (test/support/influxd.ts): each line is parsed and stored by a real InfluxDB engine and can be
 * queried back with `influxd.query(<bucket or database>, ...)`.
 *
 * It is strict, not friendly: wrong tokens, unknown orgs/buckets, bad precisions, bad lines,
 * duplicate buckets/databases and the 5-database limit of InfluxDB 3 Core answer with the
 * status codes and bodies of the real servers. Sources of the shapes, cited below as [notes]:
 * InfluxData's server source, v2 read from influxdb v2.7.12 (`http/write_handler.go`, `tenant/*`,
 * `kit/transport/http/error_handler.go`) and v3 from influxdb3 (`influxdb3_server/src/http.rs`);
 * [v2 bucket handler] = influxdb v2
 * `tenant/http_server_bucket.go`; [v3 http.rs] = influxdb3 `influxdb3_server/src/http.rs`
 * (error enums and `IntoResponse` impls).
 *
 * InfluxDB 3 source read: influxdata/influxdb @ d7834110 (3.10); each shape names its file.
 * v3 checks column types per table before writing anything (v3-catalog.ts), so its
 * all-or-nothing writes store nothing when a line fails, as the real server does.
 *
 * Known differences from the real servers (influxd 1.x is the engine underneath):
 * - Parse errors are influxd 1.x's texts (`unable to parse '...': missing field value`), not
 *   3.x's parser wording; v3 column type clashes have InfluxDB 3's text. Tests assert on
 *   statuses, shapes and stored data, not on these texts.
 * - v3 `original_line` is the line as sent. The real server re-prints a line it parsed, and
 *   takes an unparsable one from `lp.lines()` counted alongside the data lines, which names
 *   the wrong line when a blank or comment line comes first (influxdb3
 *   `influxdb3_write/src/write_buffer/validator.rs`).
 * - v3 has no tag-cardinality limit but influxd has `max-values-per-tag`: start influxd with
 *   `maxValuesPerTag: 0` where a v3 test writes more than 100,000 values of one tag. A line
 *   influxd refuses for such a limit of its own is answered as a failed line, and on the
 *   all-or-nothing paths the other lines are then stored.
 * - A v2 bucket is the influxd database of the same name, so bucket names are unique across
 *   orgs here; system buckets (`_monitoring`, `_tasks`) are not listed.
 * - Lines are split as influxd 1.x splits them (a newline inside a quoted field value does
 *   not end a line); a v3 line without a timestamp gets influxd's ingest time.
 *
 * Layout (each file imports only those below it; the [citations] of every file are the ones above):
 * index.ts (this: public API and start), v2-api.ts, v3-api.ts, v3-catalog.ts (InfluxDB 3's
 * column types), auth-and-faults.ts, influxd-storage.ts (storing in influxd), line-protocol.ts
 * (splitting, column types of a line), http.ts (plumbing), state.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InfluxdServer } from '../influxd.js';
import { dispatch } from './auth-and-faults.js';
import { handleRequest } from './http.js';
import {
  createState,
  type EmulatorState,
  type EmulatorStats,
  type Fault,
  type RecordedRequest,
  type WriteFault,
} from './state.js';
import { V2_ROUTES } from './v2-api.js';
import { reserveV3Database, V3_DATABASE_LIMIT, V3_ROUTES } from './v3-api.js';

export type { EmulatorStats, RecordedRequest, WriteFault } from './state.js';

export interface InfluxEmulatorOptions {
  version: 2 | 3;
  /** The influxd that stores what is written (one influxd can serve several emulators). */
  influxd: InfluxdServer;
  token: string;
  /** v2: organizations that exist from the start; default `['my-org']`. */
  orgs?: string[];
  /** v2: tokens that authenticate but lack write permission (a write answers 403). */
  readOnlyTokens?: string[];
  /** v3: databases that exist from the start (they count toward the limit of 5). */
  databases?: string[];
  /**
   * The largest write body accepted, as sent and decompressed; a larger one answers 413 as the
   * server does (v3: `--max-http-request-size`, 10 MiB by default). Unlimited when unset.
   */
  maxRequestBytes?: number;
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
  const routes = options.version === 2 ? V2_ROUTES : V3_ROUTES;
  const server = createServer(
    (req, res) => void handleRequest(req, res, state, (ctx) => dispatch(ctx, state, routes)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return emulatorApi(state, server);
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
