/**
 * An HTTP (or HTTPS) proxy in front of a real server (influxd, or the v2/v3 emulator) that
 * passes every request through untouched and records what went on the wire, except the next
 * writes it is told to fault: those get an injected answer (any status, body, Retry-After),
 * a dropped connection or no answer at all, and never reach the server. For what the real
 * server never answers (a 503 with Retry-After from a proxy or an overloaded node, a 429, a
 * 500 without a body), while every write that succeeds is stored by the real server.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ProxiedRequest {
  method: string;
  /** Without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The request body as sent, gzip undone. */
  body: string;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /** Set once answered, by the server or by an injected answer. */
  status?: number;
  /** The body of that answer. */
  answerBody?: string;
  outcome?: 'forwarded' | 'injected' | 'dropped' | 'stalled';
}

export interface InjectedAnswer {
  status: number;
  /** Sent as `Retry-After: <seconds>`. */
  retryAfterSeconds?: number;
  /** A string is sent as text, an object as JSON; no body when unset. */
  body?: string | object;
}

export interface FaultProxyOptions {
  /** Listen with TLS (the server behind is still reached over plain HTTP). */
  tls?: { key: Buffer; cert: Buffer };
}

export interface FaultProxy {
  port: number;
  /** `http(s)://127.0.0.1:<port>` */
  url: string;
  /** Every request received, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** The next `count` write requests get `answer` and are not forwarded. */
  failNextWrites(count: number, answer: InjectedAnswer): void;
  /** The next `count` write requests have their connection destroyed without an answer. */
  dropNextWrites(count: number): void;
  /** The next `count` write requests are never answered, until the client gives up or stop(). */
  stallNextWrites(count: number): void;
  /** Closes every connection (stalled ones too) and stops listening. */
  stop(): Promise<void>;
}

type Fault = { kind: 'answer'; answer: InjectedAnswer } | { kind: 'drop' } | { kind: 'stall' };

/** The write endpoints of InfluxDB 1.x, 2.x (and 3.x's v2-compatible one) and 3.x. */
const WRITE_PATHS = ['/write', '/api/v2/write', '/api/v3/write_lp'];

export async function startFaultProxy(
  targetPort: number,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const faults: Fault[] = [];
  const stalled = new Set<ServerResponse>();
  // Its own agent, so that stop() can close the kept-alive connections to the server.
  const upstreamAgent = new http.Agent({ keepAlive: true });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const raw = await readBody(request).catch(() => undefined);
    if (raw === undefined) return void response.destroy(); // the client went away while sending
    const url = new URL(request.url ?? '/', 'http://proxy');
    const record: ProxiedRequest = {
      method: request.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      body: decoded(raw, request.headers['content-encoding']),
      receivedAt: Date.now(),
    };
    requests.push(record);
    const answer = (status: number, headers: http.OutgoingHttpHeaders, body: Buffer | string) => {
      Object.assign(record, { status, answerBody: body.toString() });
      response.writeHead(status, headers).end(body);
    };
    const fault =
      request.method === 'POST' && WRITE_PATHS.includes(url.pathname) ? faults.shift() : undefined;
    if (fault?.kind === 'drop') {
      record.outcome = 'dropped';
      response.socket?.destroy();
    } else if (fault?.kind === 'stall') {
      record.outcome = 'stalled';
      stalled.add(response);
      response.once('close', () => stalled.delete(response));
    } else if (fault?.kind === 'answer') {
      record.outcome = 'injected';
      answer(fault.answer.status, ...injected(fault.answer));
    } else {
      record.outcome = 'forwarded';
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: targetPort,
          method: request.method,
          path: request.url,
          headers: request.headers,
          agent: upstreamAgent,
        },
        (served) => {
          const chunks: Buffer[] = [];
          served.on('data', (chunk: Buffer) => chunks.push(chunk));
          served.on('end', () => answer(served.statusCode ?? 502, served.headers, Buffer.concat(chunks)));
        },
      );
      upstream.on('error', () => {
        record.status = 502;
        response.destroy();
      });
      upstream.end(raw);
    }
  };
  const listener = (request: IncomingMessage, response: ServerResponse) => void handle(request, response);
  const server = options.tls ? https.createServer(options.tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const queue = (count: number, fault: Fault) => {
    for (let i = 0; i < count; i++) faults.push(fault);
  };

  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    failNextWrites: (count, answer) => queue(count, { kind: 'answer', answer }),
    dropNextWrites: (count) => queue(count, { kind: 'drop' }),
    stallNextWrites: (count) => queue(count, { kind: 'stall' }),
    stop: async () => {
      for (const response of stalled) response.socket?.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      upstreamAgent.destroy();
    },
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decoded(raw: Buffer, encoding: string | undefined): string {
  if (encoding !== 'gzip' && encoding !== 'x-gzip') return raw.toString('utf8');
  try {
    return gunzipSync(raw).toString('utf8');
  } catch {
    return raw.toString('utf8'); // not really gzip: the server behind will say so
  }
}

function injected({ retryAfterSeconds, body }: InjectedAnswer): [http.OutgoingHttpHeaders, string] {
  const headers: http.OutgoingHttpHeaders =
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  if (body === undefined) return [headers, ''];
  if (typeof body === 'string') return [{ ...headers, 'content-type': 'text/plain; charset=utf-8' }, body];
  return [{ ...headers, 'content-type': 'application/json' }, JSON.stringify(body)];
}
