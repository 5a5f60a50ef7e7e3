/**
 * An HTTP proxy in front of a real server (influxd) that passes every request through
 * untouched, except the next writes it is told to fail: those get the given status and
 * Retry-After, and never reach the server. For what InfluxDB 1.x itself never answers (a 503
 * with Retry-After, as a proxy or an overloaded InfluxDB Enterprise node can), while every
 * write that succeeds is stored by the real server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /** Set once answered. */
  status?: number;
}

export interface FaultProxy {
  port: number;
  readonly requests: readonly ProxiedRequest[];
  /** The next `count` POSTs to /write answer `status` (with Retry-After when given) and are not forwarded. */
  failNextWrites(count: number, fault: { status: number; retryAfterSeconds?: number }): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  let faultsLeft = 0;
  let fault = { status: 503 } as { status: number; retryAfterSeconds?: number };

  const server = http.createServer((request, response) => {
    const record: ProxiedRequest = {
      method: request.method ?? '',
      path: request.url ?? '',
      receivedAt: Date.now(),
    };
    requests.push(record);
    const answer = (status: number, headers: http.OutgoingHttpHeaders, body?: Buffer | string) => {
      record.status = status;
      response.writeHead(status, headers).end(body);
    };
    if (request.method === 'POST' && record.path.startsWith('/write') && faultsLeft > 0) {
      faultsLeft -= 1;
      request.resume();
      const retryAfter =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      answer(
        fault.status,
        { 'content-type': 'application/json', ...retryAfter },
        '{"error":"injected fault"}',
      );
      return;
    }
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: request.method,
        path: request.url,
        headers: request.headers,
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
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as AddressInfo).port,
    requests,
    failNextWrites(count, next) {
      faultsLeft = count;
      fault = next;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
