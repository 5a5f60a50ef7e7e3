/**
 * InfluxDB 1.x writer, with the `influx` package (node-influx 5.12): one `writePoints` call
 * per batch, `POST /write?db&rp&precision=n`, HTTP Basic auth when configured.
 *
 * What the package does that we must not let it do (read in node_modules/influx/lib/src):
 * - escaping (grammar/escape.js): every Escaper first replaces the first `\'` of a string
 *   with `\\'`, so a tag or string field holding `\'` would be stored with an extra
 *   backslash; numbers are written with String(), which gives exponent forms. So it is given
 *   no tags or fields at all: writePoints writes a point's measurement as it is, unescaped,
 *   and adds nothing after it for a point without tags, fields and timestamp (index.js
 *   `writePoints`). Each of our lines, passed as a measurement, goes on the wire byte for byte
 *   as toLineProtocol() wrote it, the same as for v2 and v3.
 * - its pool retries a 5xx or network error twice and takes the host out of rotation for a
 *   growing delay (pool.js `_handleRequestError`, `_disableHost`): retries are off, and the
 *   host is never taken out, since the hybrid buffer owns retries and back-off.
 * - it answers every 5xx with a bare ServiceNotAvailableError, dropping the status, the body
 *   and Retry-After: the writer watches its own request's answer (AnswerWatcher) instead.
 * - node's strict HTTP parser refuses InfluxDB's answer to a line holding a control character
 *   (see `insecureHTTPParser` below).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import https, { Agent as HttpsAgent } from 'node:https';
import { InfluxDB, type IPoolOptions } from 'influx';
import {
  httpWriteError,
  serverMessageFromBody,
  transportWriteError,
  type InfluxWriteError,
} from './write-errors.js';
import type { InfluxConnection } from './connection.js';
import type { InfluxPointWriter } from './point-writer.js';

type V1WriterOptions = Pick<InfluxConnection, 'host' | 'port' | 'protocol' | 'credentials' | 'timeoutMs'> & {
  database: string;
  retentionPolicy: string;
};

type BackoffStrategy = NonNullable<IPoolOptions['backoff']>;

/** A zero delay keeps the one host in the pool after a failure (pool.js disables it only when delay > 0). */
const KEEP_HOST_IN_POOL: BackoffStrategy = {
  getDelay: () => 0,
  next: () => KEEP_HOST_IN_POOL,
  reset: () => KEEP_HOST_IN_POOL,
};

/** What the server answered one request: its response and the body read so far. */
interface Answer {
  response?: IncomingMessage;
  body: string;
}

const REQUEST_START_CHANNEL = 'http.client.request.start';

/**
 * Records the answers to the writer's requests, through node's documented
 * `http.client.request.start` channel. The writer's requests all go through its own agent,
 * which is how they are told from any other request of the process, and the writer sends one
 * write at a time (createV1PointWriter queues them), so the next request through that agent
 * is the call's. (Not AsyncLocalStorage: on Node 20 it slows every promise
 * of the process.)
 */
class AnswerWatcher {
  /** Every request of the writer goes through this agent (the package's host options pass it on). */
  readonly agent: HttpAgent;
  private awaited: Answer | null = null;
  private readonly onRequestStart = (message: unknown) => {
    const { request } = message as { request: ClientRequest & { agent?: unknown } };
    const answer = this.awaited;
    if (answer === null || request.agent !== this.agent) return;
    this.awaited = null;
    request.once('response', (response: IncomingMessage) => {
      answer.response = response;
      response.on('data', (chunk: string | Buffer) => {
        answer.body += chunk.toString();
      });
    });
  };

  constructor(protocol: 'http' | 'https') {
    // Keep-alive as node's global agents; over https also what is set there (a trusted CA).
    this.agent =
      protocol === 'https'
        ? new HttpsAgent({ ...https.globalAgent.options, keepAlive: true })
        : new HttpAgent({ keepAlive: true });
    subscribe(REQUEST_START_CHANNEL, this.onRequestStart);
  }

  /** Calls `start` and watches the answer to the request it makes through the agent. */
  watch<T>(start: () => Promise<T>): { settled: Promise<T>; answer: Answer } {
    const answer: Answer = { body: '' };
    this.awaited = answer;
    // async: a synchronous throw from `start` becomes a rejection like any other failure.
    return { settled: (async () => start())(), answer };
  }

  close(): void {
    unsubscribe(REQUEST_START_CHANNEL, this.onRequestStart);
    this.agent.destroy();
  }
}

/**
 * The package's RequestError (status 300..499) carries the response as `res` and the body
 * only inside its message: `A <status> <text> error occurred: <body>`. For a 5xx it throws a
 * bare ServiceNotAvailableError; the watched answer then gives the status, body and
 * Retry-After. Without any answer (network error, timeout) nothing came back.
 */
function fromInfluxPackageError(error: unknown, watched: Answer): InfluxWriteError {
  const requestError = (error as { res?: IncomingMessage } | null)?.res;
  const response = requestError ?? watched.response;
  if (typeof response?.statusCode !== 'number' || response.statusCode < 300)
    return transportWriteError(error);
  const body = requestError ? /error occurred: ([\s\S]*)$/.exec((error as Error).message)?.[1] : watched.body;
  const header = response.headers['x-influxdb-error'];
  return httpWriteError({
    version: 1,
    status: response.statusCode,
    serverMessage: serverMessageFromBody(body) ?? (typeof header === 'string' ? header : undefined),
    retryAfter: response.headers['retry-after'],
    cause: error,
  });
}

export function createV1PointWriter(options: V1WriterOptions): InfluxPointWriter {
  const answers = new AnswerWatcher(options.protocol);
  const influx = new InfluxDB({
    host: options.host,
    port: options.port,
    protocol: options.protocol,
    database: options.database,
    // The package sends Basic auth whenever a username is set.
    ...options.credentials,
    pool: { maxRetries: 0, requestTimeout: options.timeoutMs, backoff: KEEP_HOST_IN_POOL },
    // InfluxDB 1.x copies the first 1024 bytes of an error into the X-Influxdb-Error header, and
    // a refused line is quoted in it as it was sent: a control character of an event (NUL, ESC,
    // DEL) then makes node's strict parser drop the whole answer (HPE_INVALID_HEADER_TOKEN),
    // the refusal looks like a network error, and the point is retried forever, blocking every
    // event behind it. The lenient parser reads that answer; it serves only this writer's
    // requests to the configured server.
    options: { agent: answers.agent, insecureHTTPParser: true },
  });
  const writeOptions = {
    database: options.database,
    retentionPolicy: options.retentionPolicy,
    precision: 'n',
  } as const;
  async function writeNow(lines: string[]): Promise<void> {
    // A whole line as the measurement: written as it is (see the top of this file).
    const points = lines.map((line) => ({ measurement: line }));
    const { settled, answer } = answers.watch(() => influx.writePoints(points, writeOptions));
    try {
      await settled;
    } catch (error) {
      throw fromInfluxPackageError(error, answer);
    }
  }
  // The sink and the queue metrics share the writer: a write waits for the one before it, or
  // the watcher could hand one request's answer to the other (the request starts a tick later).
  let previous: Promise<void> = Promise.resolve();
  return {
    write(lines) {
      if (lines.length === 0) return Promise.resolve();
      const written = previous.then(() => writeNow(lines));
      previous = written.catch(() => undefined);
      return written;
    },
    // The package holds no connection of its own to release.
    async close() {
      answers.close();
    },
  };
}
