/**
 * Starts a private InfluxDB 1.x server (`/usr/bin/influxd`, Debian's 1.6.7) for tests: its own
 * generated config, free ports on 127.0.0.1, data/meta/wal in a temp dir. Never the system
 * service, never port 8086 (docs/testing.md, "Real components").
 *
 * Every started process is tracked and killed when the test process exits, even after a failed
 * test; only a SIGKILL of the test process itself can leave one behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const INFLUXD_BINARY = '/usr/bin/influxd';

export interface InfluxdOptions {
  /** The influxd binary; default `/usr/bin/influxd` (another path lets a test see the missing-binary error). */
  binary?: string;
  /** Turns on `auth-enabled` and creates an admin user that every helper method uses. */
  authEnabled?: boolean;
  /** `[data] max-values-per-tag`; influxd's default (100000) when unset, 0 = unlimited. */
  maxValuesPerTag?: number;
  /** `[data] max-series-per-database`; influxd's default (1000000) when unset, 0 = unlimited. */
  maxSeriesPerDatabase?: number;
  /** `[http] max-body-size` in bytes; influxd's default (25e6) when unset. */
  maxBodySize?: number;
  /** How long to wait for `/ping` after a start; default 30 s. */
  startTimeoutMs?: number;
}

/** `epoch` of `/query`: timestamps as integers in this unit instead of RFC3339 strings. */
export type Epoch = 'ns' | 'u' | 'ms' | 's' | 'm' | 'h';

/** `precision` of 1.x `/write`. 1.6.7 takes any value without error but reads unknown ones, `us` included, as nanoseconds (see influxd.test.ts): microseconds are `u`. */
export type WritePrecision = 'n' | 'ns' | 'u' | 'us' | 'ms' | 's' | 'm' | 'h';

export interface QueryOptions {
  epoch?: Epoch;
}

export interface WriteOptions {
  /** Target retention policy; the database's default one when unset. */
  rp?: string;
}

/** One row: column name → value. See `InfluxdServer.query` for the value types. */
export type Row = Record<string, unknown>;

export interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

export interface StatementResult {
  statement_id: number;
  series?: Series[];
  error?: string;
}

/** The JSON body of 1.x `/query`; `error` is set when the whole request failed. */
export interface QueryResponse {
  results?: StatementResult[];
  error?: string;
}

/** What 1.x `/write` answered: 204 for success, otherwise the status and its `error` text. */
export interface WriteOutcome {
  status: number;
  error?: string;
}

/** What a restart may change in the config. */
export type RestartChanges = Pick<InfluxdOptions, 'maxBodySize' | 'maxValuesPerTag' | 'maxSeriesPerDatabase'>;

export interface Credentials {
  username: string;
  password: string;
}

export interface InfluxdServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes on `restart()`). */
  readonly pid: number;
  /** Temp dir holding the config file and the meta/data/wal dirs; removed by `stop()`. */
  readonly dataDir: string;
  /** Set when started with `authEnabled`. */
  readonly credentials?: Credentials;
  /**
   * Runs one InfluxQL statement and returns the rows of every series of its result, each row an
   * object keyed by column name, with the series' GROUP BY tags merged in (use `queryRaw` for
   * series names). `time` is an RFC3339 string with nanoseconds, as influxd sends it, or, with
   * `epoch`, an exact `bigint`. Other integers beyond 2^53 are `bigint` too, never rounded.
   * Throws if influxd reports an error.
   */
  query(db: string, influxql: string, options?: QueryOptions): Promise<Row[]>;
  /** The whole `/query` answer, statement errors included (no throw); big integers as in `query`. */
  queryRaw(db: string | undefined, influxql: string, options?: QueryOptions): Promise<QueryResponse>;
  /** Runs statements such as CREATE DATABASE; throws on any error (influxd answers 200 even then). */
  ddl(statement: string, db?: string): Promise<void>;
  /** Posts line protocol straight to influxd `/write` (a baseline, no client library involved). */
  write(
    db: string,
    lineProtocol: string,
    precision?: WritePrecision,
    options?: WriteOptions,
  ): Promise<WriteOutcome>;
  /** SIGSTOP, resolved once the kernel shows it stopped: it keeps its sockets but answers nothing until `resume()`. */
  pause(): Promise<void>;
  /** SIGCONT */
  resume(): void;
  /** Kills the process by PID, waits for it to exit and removes `dataDir`. */
  stop(): Promise<void>;
  /**
   * Stops and starts again on the same port and data dir: data survives, clients reconnect.
   * `changes` (e.g. a larger `maxBodySize`) apply from this start on.
   */
  restart(changes?: RestartChanges): Promise<void>;
  /** Stops the process but keeps its data: the server is down until `restart()`. */
  halt(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_LINES = 40;
const ADMIN: Credentials = { username: 'admin', password: 'admin-password' };

/** Processes and temp dirs still to clean up when the test process exits. */
const liveProcesses = new Set<ChildProcess>();
const liveDataDirs = new Set<string>();

export async function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxdServer> {
  assertInfluxdInstalled(options.binary);
  installExitCleanup();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'influxd-test-'));
  liveDataDirs.add(dataDir);
  const [port, rpcPort] = await findFreePorts(2);
  for (const dir of ['meta', 'data', 'wal']) mkdirSync(path.join(dataDir, dir));
  const server = new ManagedInfluxd(dataDir, port, rpcPort, options);
  try {
    await server.launch();
    if (options.authEnabled) await server.createAdminUser();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

export function assertInfluxdInstalled(binary = INFLUXD_BINARY): void {
  if (!existsSync(binary)) {
    throw new Error(
      `${binary} is missing: run \`bash scripts/ensure-influxd.sh\` as root (installs Debian's influxdb package)`,
    );
  }
}

class ManagedInfluxd implements InfluxdServer {
  readonly url: string;
  readonly credentials?: Credentials;
  #child?: ChildProcess;
  #stderrTail: string[] = [];

  private readonly configFile: string;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly rpcPort: number,
    private options: InfluxdOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.configFile = path.join(dataDir, 'influxdb.conf');
    if (options.authEnabled) this.credentials = ADMIN;
  }

  get pid(): number {
    if (this.#child?.pid === undefined) throw new Error('influxd is not running');
    return this.#child.pid;
  }

  async launch(): Promise<void> {
    const { dataDir, port, rpcPort, options } = this;
    writeFileSync(this.configFile, renderConfig({ dataDir, port, rpcPort, options }));
    this.#stderrTail = [];
    const child = spawn(this.options.binary ?? INFLUXD_BINARY, ['-config', this.configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.#keepStderr(chunk));
    liveProcesses.add(child);
    child.once('exit', () => liveProcesses.delete(child));
    this.#child = child;
    await this.#waitForPing(child);
  }

  /** With no user yet, influxd lets anyone create the first admin (1.x authentication docs). */
  async createAdminUser(): Promise<void> {
    const statement = `CREATE USER ${quoteIdentifier(ADMIN.username)} WITH PASSWORD '${ADMIN.password}' WITH ALL PRIVILEGES`;
    const response = await fetch(`${this.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: statement }),
    });
    assertNoQueryErrors(parseInfluxJson(await response.text()) as QueryResponse, statement);
  }

  async query(db: string, influxql: string, options: QueryOptions = {}): Promise<Row[]> {
    const response = await this.queryRaw(db, influxql, options);
    assertNoQueryErrors(response, influxql);
    return rowsOf(response.results?.[0], options.epoch !== undefined);
  }

  async queryRaw(
    db: string | undefined,
    influxql: string,
    options: QueryOptions = {},
  ): Promise<QueryResponse> {
    const form = new URLSearchParams({ q: influxql });
    if (db !== undefined) form.set('db', db);
    if (options.epoch) form.set('epoch', options.epoch);
    const response = await fetch(`${this.url}/query`, {
      method: 'POST',
      headers: this.#authHeaders(),
      body: form,
    });
    const text = await response.text();
    return text
      ? (parseInfluxJson(text) as QueryResponse)
      : { error: `HTTP ${response.status} with an empty body` };
  }

  async ddl(statement: string, db?: string): Promise<void> {
    assertNoQueryErrors(await this.queryRaw(db, statement), statement);
  }

  async write(
    db: string,
    lineProtocol: string,
    precision?: WritePrecision,
    options: WriteOptions = {},
  ): Promise<WriteOutcome> {
    const params = new URLSearchParams({ db });
    if (precision) params.set('precision', precision);
    if (options.rp) params.set('rp', options.rp);
    const response = await fetch(`${this.url}/write?${params}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8', ...this.#authHeaders() },
      body: lineProtocol,
    });
    const text = await response.text();
    return response.status === 204 ? { status: 204 } : { status: response.status, error: errorText(text) };
  }

  async pause(): Promise<void> {
    const pid = this.pid;
    process.kill(pid, 'SIGSTOP');
    // The signal is delivered asynchronously: a request sent before every thread has stopped
    // could still be answered.
    for (const deadline = Date.now() + 5000; processState(pid) !== 'T'; await sleep(5)) {
      if (Date.now() > deadline) throw new Error(`influxd (pid ${pid}) did not stop within 5 s of SIGSTOP`);
    }
  }

  resume(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  async stop(): Promise<void> {
    await this.#terminate();
    rmSync(this.dataDir, { recursive: true, force: true });
    liveDataDirs.delete(this.dataDir);
  }

  async restart(changes: RestartChanges = {}): Promise<void> {
    await this.#terminate();
    this.options = { ...this.options, ...changes };
    await this.launch();
  }

  async halt(): Promise<void> {
    await this.#terminate();
  }

  /** SIGTERM for a clean shutdown (SIGCONT too, in case it is paused), SIGKILL if it hangs. */
  async #terminate(): Promise<void> {
    const child = this.#child;
    if (!child || hasExited(child)) return;
    const exited = once(child, 'exit');
    process.kill(child.pid as number, 'SIGTERM');
    process.kill(child.pid as number, 'SIGCONT');
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(killer);
  }

  async #waitForPing(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    while (Date.now() < deadline) {
      if (hasExited(child)) throw this.#startError(`exited with ${child.exitCode ?? child.signalCode}`);
      if (await pingAnswers(this.url)) return;
      await sleep(50);
    }
    throw this.#startError('did not answer /ping in time');
  }

  #startError(reason: string): Error {
    return new Error(`influxd (${this.configFile}) ${reason}; its stderr:\n${this.#stderrTail.join('\n')}`);
  }

  #keepStderr(chunk: string): void {
    this.#stderrTail.push(...chunk.split('\n').filter(Boolean));
    this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - STDERR_TAIL_LINES));
  }

  #authHeaders(): Record<string, string> {
    if (!this.credentials) return {};
    const { username, password } = this.credentials;
    return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
  }
}

function renderConfig({
  dataDir,
  port,
  rpcPort,
  options,
}: {
  dataDir: string;
  port: number;
  rpcPort: number;
  options: InfluxdOptions;
}): string {
  const [metaDir, dataPath, walDir] = ['meta', 'data', 'wal'].map((name) => path.join(dataDir, name));
  const optional = (key: string, value: number | undefined) =>
    value === undefined ? '' : `  ${key} = ${value}\n`;
  // Debian's build spells the switch `reporting-enabled`; upstream's is `reporting-disabled`.
  // influxd ignores keys it does not know, so both are set.
  return `reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = ${JSON.stringify(metaDir)}
  logging-enabled = false

[data]
  dir = ${JSON.stringify(dataPath)}
  wal-dir = ${JSON.stringify(walDir)}
  query-log-enabled = false
  trace-logging-enabled = false
${optional('max-values-per-tag', options.maxValuesPerTag)}${optional('max-series-per-database', options.maxSeriesPerDatabase)}
[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${options.authEnabled === true}
  log-enabled = false
  suppress-write-log = true
  pprof-enabled = false
${optional('max-body-size', options.maxBodySize)}
[logging]
  level = "error"
  suppress-logo = true
`;
}

/** Ports the kernel hands out for port 0, all held open at once so they differ. */
async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenOnFreePort));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function listenOnFreePort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function pingAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 204;
  } catch {
    return false;
  }
}

/** The state letter of /proc/<pid>/stat (R running, S sleeping, T stopped …), after the parenthesised name. */
function processState(pid: number): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function assertNoQueryErrors(response: QueryResponse, statement: string): void {
  const errors = [response.error, ...(response.results ?? []).map((result) => result.error)].filter(Boolean);
  if (errors.length > 0)
    throw new Error(`influxd refused ${JSON.stringify(statement)}: ${errors.join('; ')}`);
}

function rowsOf(result: StatementResult | undefined, exactTime: boolean): Row[] {
  return (result?.series ?? []).flatMap((series) =>
    (series.values ?? []).map((values) => {
      const row: Row = { ...series.tags };
      series.columns.forEach((column, index) => (row[column] = values[index]));
      if (exactTime && row.time !== null && row.time !== undefined)
        row.time = BigInt(row.time as number | bigint);
      return row;
    }),
  );
}

/** The `error` of an influxd JSON error body, or the raw text when it is not JSON. */
function errorText(body: string): string {
  try {
    return (JSON.parse(body) as { error?: string }).error ?? body;
  } catch {
    return body;
  }
}

const BIG_INTEGER_MARK = '\u0000bigint:';
/** A JSON string (skipped) or an integer literal of 16+ digits (may exceed 2^53). */
const STRING_OR_LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\w.+-])-?\d{16,}(?![\d.eE])/g;

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint): ns timestamps need all digits. */
export function parseInfluxJson(text: string): unknown {
  const marked = text.replace(STRING_OR_LONG_INTEGER, (token) =>
    token.startsWith('"') ? token : JSON.stringify(BIG_INTEGER_MARK + token),
  );
  return JSON.parse(marked, (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(BIG_INTEGER_MARK)) return value;
    const exact = BigInt(value.slice(BIG_INTEGER_MARK.length));
    return Number.isSafeInteger(Number(exact)) ? Number(exact) : exact;
  });
}

/** An InfluxQL identifier in double quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Kills tracked influxd processes and removes their dirs when mocha exits, passes or fails. */
function installExitCleanup(): void {
  if (process.listeners('exit').includes(cleanUpSynchronously)) return;
  process.on('exit', cleanUpSynchronously);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanUpSynchronously();
      process.kill(process.pid, signal);
    });
  }
}

function cleanUpSynchronously(): void {
  for (const child of liveProcesses) {
    if (child.pid !== undefined && !hasExited(child)) process.kill(child.pid, 'SIGKILL');
  }
  for (const dir of liveDataDirs) rmSync(dir, { recursive: true, force: true });
}
