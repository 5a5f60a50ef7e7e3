/**
 * An image server the screenshot tests start on a real socket (HTTP, or HTTPS with a given
 * certificate), with routes that behave as the Qlik servers and the hostile pages the saver
 * must survive: images, redirects, stalls, failures before success, lies about the content
 * type, and bodies that never end. It records every request it gets.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export type Route = (request: IncomingMessage, response: ServerResponse) => void;

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  host: string;
  cookie: string | null;
}

export interface ImageServer {
  readonly host: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Requests held by stall() routes right now. */
  readonly stalled: number;
  /** TCP connections accepted, TLS handshakes that failed included. */
  readonly connections: number;
  /** The URL of `path` on this server. */
  url(path: string): string;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

export interface ImageServerOptions {
  /** The loopback address to listen on (127.0.0.1 unless told). */
  host?: string;
  /** HTTPS with this certificate; HTTP without. */
  tls?: { cert: Buffer; key: Buffer };
}

export async function startImageServer(options: ImageServerOptions = {}): Promise<ImageServer> {
  const host = options.host ?? '127.0.0.1';
  const routes = new Map<string, Route>();
  const requests: RecordedRequest[] = [];
  let stalled = 0;
  let connections = 0;
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      host: request.headers.host ?? '',
      cookie: request.headers.cookie ?? null,
    });
    const route = routes.get(new URL(request.url ?? '/', 'http://x').pathname);
    if (route === stallRoute) {
      stalled += 1;
      request.socket.once('close', () => (stalled -= 1));
      return;
    }
    if (!route) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    route(request, response);
  };
  const server = options.tls ? https.createServer(options.tls, handle) : http.createServer(handle);
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  return {
    host,
    port,
    requests,
    get stalled() {
      return stalled;
    },
    get connections() {
      return connections;
    },
    url: (path) => `${scheme}://${host}:${port}${path}`,
    route: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // stalled requests included
      }),
  };
}

/** Answers with `bytes` and the content type it is given (the truth or a lie). */
export function serveBytes(bytes: Buffer, contentType = 'image/png'): Route {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length }).end(bytes);
  };
}

export function redirectTo(location: string, status = 302): Route {
  return (_request, response) => {
    response.writeHead(status, { location }).end();
  };
}

/** Never answers: the request hangs until the client gives up or the server closes. */
export const stallRoute: Route = () => {};

/** Answers `status` the first `times` requests, then as `then`. */
export function failFirst(times: number, status: number, then: Route): Route {
  let failures = 0;
  return (request, response) => {
    if (failures < times) {
      failures += 1;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(`failure ${failures}`);
      return;
    }
    then(request, response);
  };
}

/**
 * A body that never ends (no content length), chunk after chunk, until the client hangs up;
 * `sent()` tells how many bytes went out.
 */
export function endlessBody(contentType = 'image/png'): { route: Route; sent(): number } {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const route: Route = (_request, response) => {
    response.writeHead(200, { 'content-type': contentType });
    const pump = () => {
      while (!response.destroyed && response.write(chunk)) sent += chunk.length;
      if (!response.destroyed) {
        sent += chunk.length;
        response.once('drain', pump);
      }
    };
    response.once('close', () => response.removeListener('drain', pump));
    pump();
  };
  return { route, sent: () => sent };
}
