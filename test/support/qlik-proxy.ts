/**
 * A Qlik Sense proxy stand-in over real HTTPS, for the screenshot ticket modes (no Qlik Sense
 * server can run here). Two servers, as in Qlik Sense:
 * - the Qlik Proxy Service API (port 4243 there): mutual TLS, only for clients whose
 *   certificate the test CA signed; `POST /qps[/<vp>]/ticket?Xrfkey=` with the same 16
 *   characters in `X-Qlik-Xrfkey` answers 201 `{UserDirectory, UserId, Attributes, Ticket,
 *   TargetUri}`; `DELETE /qps[/<vp>]/session/<id>?Xrfkey=` ends a session (404 when unknown);
 * - the proxy (port 443 there): a request with `qlikTicket=` (one use, for the virtual proxy of
 *   its path) opens a session, sets `X-Qlik-Session[-<vp>]` and redirects to the same URL
 *   without the ticket; a request with a live session cookie gets the resource; anything else
 *   is redirected to the login page, as a proxy with ticket authentication does.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { createClientCertificateAuthority, createServerCertificate } from './tls.js';

export interface IssuedTicket {
  virtualProxy: string;
  userDirectory: string;
  userId: string;
  /** The CN of the client certificate the request came with. */
  clientCertificate: string;
}

export interface ProxyRequest {
  path: string;
  withTicket: boolean;
  session: string | null;
}

interface Session {
  id: string;
  virtualProxy: string;
  user: string;
}

export interface QlikStandIn {
  qpsPort: number;
  proxyPort: number;
  /** Files for `auth.tls`: the client certificate the CA signed, and that CA. */
  clientTls: { certFile: string; keyFile: string; caFile: string };
  tickets: IssuedTicket[];
  /** Session ids ended through the QPS API. */
  deletedSessions: string[];
  proxyRequests: ProxyRequest[];
  /** Live sessions: id → `DIRECTORY\user`. */
  sessions(): Map<string, string>;
  /** Serves `bytes` as image/png at `path` (for example `/tempcontent/<app>/<object>.png`). */
  publish(path: string, bytes: Buffer): void;
  /** Ends a session on the server side, as a Qlik session timeout does. */
  expireSession(id: string): void;
  imageUrl(path: string): string;
  close(): Promise<void>;
}

function listen(server: https.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** `/qps[/<vp>]/<rest>` → its virtual proxy and the rest. */
function qpsRoute(pathname: string): { virtualProxy: string; rest: string } | null {
  const match = /^\/qps(?:\/([^/]+))?\/(ticket|session\/[^/]+)$/.exec(pathname);
  return match ? { virtualProxy: match[1] ?? '', rest: match[2] } : null;
}

/** The virtual proxy a proxy path is under: `/tempcontent/…` is the default one. */
function virtualProxyOf(pathname: string): string {
  const first = pathname.split('/')[1] ?? '';
  return first === 'tempcontent' ? '' : first;
}

function cookieName(virtualProxy: string): string {
  return virtualProxy ? `X-Qlik-Session-${virtualProxy}` : 'X-Qlik-Session';
}

/** Starts both servers with certificates made in `dir` (a CA, a server and a client certificate). */
export async function startQlikStandIn(dir: string): Promise<QlikStandIn> {
  createClientCertificateAuthority(dir);
  const server = createServerCertificate(dir, 'qlik-server');
  const key = readFileSync(server.keyFile);
  const cert = readFileSync(server.certFile);
  const ca = readFileSync(path.join(dir, 'ca.crt'));

  const tickets: IssuedTicket[] = [];
  const pendingTickets = new Map<string, Session>();
  const liveSessions = new Map<string, Session>();
  const deletedSessions: string[] = [];
  const proxyRequests: ProxyRequest[] = [];
  const images = new Map<string, Buffer>();

  const qps = https.createServer(
    { key, cert, ca, requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      void (async () => {
        const url = new URL(request.url ?? '/', 'https://qps');
        const route = qpsRoute(url.pathname);
        const xrfkey = url.searchParams.get('Xrfkey') ?? url.searchParams.get('xrfkey');
        if (!route) return json(response, 404, { error: 'no such QPS resource' });
        if (!xrfkey || xrfkey.length !== 16 || request.headers['x-qlik-xrfkey'] !== xrfkey)
          return json(response, 403, { error: 'Xrfkey missing or not the same in query and header' });
        if (request.method === 'POST' && route.rest === 'ticket') {
          const body = JSON.parse(await readBody(request)) as { UserDirectory?: string; UserId?: string };
          if (!body.UserDirectory || !body.UserId)
            return json(response, 400, { error: 'UserDirectory and UserId required' });
          const peer = (request.socket as TLSSocket).getPeerCertificate();
          tickets.push({
            virtualProxy: route.virtualProxy,
            userDirectory: body.UserDirectory,
            userId: body.UserId,
            clientCertificate: String(peer.subject?.CN ?? ''),
          });
          const ticket = randomUUID().replaceAll('-', '').slice(0, 16);
          pendingTickets.set(ticket, {
            id: '',
            virtualProxy: route.virtualProxy,
            user: `${body.UserDirectory}\\${body.UserId}`,
          });
          return json(response, 201, {
            UserDirectory: body.UserDirectory,
            UserId: body.UserId,
            Attributes: [],
            Ticket: ticket,
            TargetUri: null,
          });
        }
        if (request.method === 'DELETE' && route.rest.startsWith('session/')) {
          const id = decodeURIComponent(route.rest.slice('session/'.length));
          const session = liveSessions.get(id);
          if (!session || session.virtualProxy !== route.virtualProxy)
            return json(response, 404, { error: 'no such session' });
          liveSessions.delete(id);
          deletedSessions.push(id);
          return json(response, 200, { SessionId: id, UserDirectory: session.user.split('\\')[0] });
        }
        return json(response, 405, { error: 'method not allowed' });
      })();
    },
  );

  const proxy = https.createServer({ key, cert }, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://proxy');
    const virtualProxy = virtualProxyOf(url.pathname);
    const ticket = url.searchParams.get('qlikTicket');
    const cookie = new RegExp(`(?:^|;\\s*)${cookieName(virtualProxy)}=([^;]+)`).exec(
      request.headers.cookie ?? '',
    )?.[1];
    const session = cookie ? liveSessions.get(cookie) : undefined;
    proxyRequests.push({ path: url.pathname, withTicket: ticket !== null, session: session?.id ?? null });
    if (ticket !== null) {
      const pending = pendingTickets.get(ticket);
      pendingTickets.delete(ticket); // one use
      if (!pending || pending.virtualProxy !== virtualProxy) {
        response.writeHead(403, { 'content-type': 'text/html' }).end('<html>Invalid ticket</html>');
        return;
      }
      const opened = { ...pending, id: randomUUID() };
      liveSessions.set(opened.id, opened);
      url.searchParams.delete('qlikTicket');
      response
        .writeHead(302, {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${cookieName(virtualProxy)}=${opened.id}; Path=/; HttpOnly; Secure`,
        })
        .end();
      return;
    }
    if (!session) {
      response.writeHead(302, { location: '/internal_forms_authentication/?targetId=1' }).end();
      return;
    }
    const image = images.get(url.pathname);
    if (!image) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': 'image/png', 'content-length': image.length }).end(image);
  });

  const qpsPort = await listen(qps);
  const proxyPort = await listen(proxy);
  return {
    qpsPort,
    proxyPort,
    clientTls: {
      certFile: path.join(dir, 'client.crt'),
      keyFile: path.join(dir, 'client.key'),
      caFile: path.join(dir, 'ca.crt'),
    },
    tickets,
    deletedSessions,
    proxyRequests,
    sessions: () => new Map([...liveSessions].map(([id, session]) => [id, session.user])),
    publish: (imagePath, bytes) => void images.set(imagePath, bytes),
    expireSession: (id) => void liveSessions.delete(id),
    imageUrl: (imagePath) => `https://127.0.0.1:${proxyPort}${imagePath}`,
    close: async () => {
      await Promise.all([close(qps), close(proxy)]);
    },
  };
}
