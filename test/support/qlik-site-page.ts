/**
 * A stand-in for a page of the Qlik Sense site, served over a real socket: the one thing of
 * a Qlik Sense server the browser tests need is an origin whose page posts events as Audit.qs
 * does. Its script adds the site's own header to every request (as pages of a Qlik Sense site
 * do, x-qlik-web-integration-id), and `postAuditEvent` sends one event with fetch: JSON, a
 * bearer token and the X-Audit-QS-Version header. Nothing is mocked in the browser.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The header every request of the page carries, as a Qlik Sense site adds it. */
export const SITE_HEADER = 'x-qlik-web-integration-id';

/** What `window.postAuditEvent` resolves to: the answer, or the error fetch rejected with. */
export type PagePostResult = { status: number; body: unknown } | { error: string };

/** The arguments of `window.postAuditEvent`, as one value (page.evaluate passes one). */
export interface PagePost {
  url: string;
  token: string;
  version: string;
  envelope: unknown;
}

const PAGE = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Qlik Sense site (test page)</title>
<script>
  // The site's own header on every request its scripts send.
  const siteFetch = window.fetch.bind(window);
  window.fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('${SITE_HEADER}', 'test-web-integration-id');
    return siteFetch(input, { ...init, headers });
  };

  // One event, as Audit.qs posts it.
  window.postAuditEvent = async ({ url, token, version, envelope }) => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: 'Bearer ' + token,
          'X-Audit-QS-Version': version,
        },
        body: JSON.stringify(envelope),
      });
      return { status: response.status, body: await response.json() };
    } catch (error) {
      return { error: String(error) };
    }
  };
</script>
</head>
<body><p>Qlik Sense site (test page)</p></body>
</html>
`;

export interface QlikSitePage {
  /** The page's URL, on `host` (so `http://localhost:<port>/` and `http://127.0.0.1:<port>/` are two origins). */
  url: string;
  /** Its origin, as the browser sends it in the Origin header. */
  origin: string;
  close(): Promise<void>;
}

/** Serves the page on 127.0.0.1, port chosen by the system; `host` is the name the browser uses. */
export async function startQlikSitePage(host: 'localhost' | '127.0.0.1'): Promise<QlikSitePage> {
  const server: Server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host}:${port}`;
  return {
    url: `${origin}/`,
    origin,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
