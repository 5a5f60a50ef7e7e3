/**
 * One attempt at fetching an image: a GET that follows at most 5 redirects by hand, so that
 * every hop's host is checked against the allow-list before it is contacted; then the
 * answer's content type, and its size while it is read (reading stops past maxBytes, nothing
 * beyond it is buffered). Qlik session cookies (`X-Qlik-Session*`) set by the first URL's
 * origin are sent back to that origin only.
 */
import { parseCookie, request, type Dispatcher } from 'undici';
import { isRetryableStatus, ScreenshotFailure } from './failure.js';
import { HostAllowList } from './url-policy.js';

const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The content types an image may come with; anything else is refused. */
const IMAGE_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageContentType = (typeof IMAGE_CONTENT_TYPES)[number];

const QLIK_SESSION_COOKIE = /^X-Qlik-Session/i;

export interface FetchedImage {
  bytes: Buffer;
  contentType: ImageContentType;
}

export interface ImageRequestOptions {
  dispatcher: Dispatcher;
  allowList: HostAllowList;
  maxBytes: number;
  /** Ends the attempt (its timeout, or shutdown). */
  signal: AbortSignal;
  /**
   * The Qlik session cookies (name → value) sent to the first URL's origin; those its answers
   * set are added, also when the attempt then fails, so that the caller can end that session.
   */
  sessionCookies: Map<string, string>;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function contentTypeOf(headers: Record<string, string | string[] | undefined>): string {
  return (headerValue(headers['content-type']) ?? '').split(';')[0].trim().toLowerCase();
}

function cookieHeader(cookies: ReadonlyMap<string, string>): string | undefined {
  if (cookies.size === 0) return undefined;
  return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

function collectSessionCookies(setCookie: string | string[] | undefined, into: Map<string, string>): void {
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const cookie = parseCookie(line);
    if (cookie && QLIK_SESSION_COOKIE.test(cookie.name)) into.set(cookie.name, cookie.value);
  }
}

type Body = Dispatcher.ResponseData['body'];

/** Closes a body not worth reading; its connection goes with it. */
function discard(body: Body): void {
  body.on('error', () => {}); // destroying an unfinished body reports an abort, expected here
  body.destroy();
}

/** Reads the body, stopping (and closing the connection) as soon as it passes maxBytes. */
async function readAtMost(body: Body, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) {
      discard(body);
      throw new ScreenshotFailure(`the image is larger than maxBytes (${maxBytes} bytes); reading stopped`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

/** GETs an image at `start` (already checked against the allow-list), following redirects. */
export async function fetchImage(start: URL, options: ImageRequestOptions): Promise<FetchedImage> {
  const { sessionCookies } = options;
  let url = start;
  for (let redirects = 0; ; redirects += 1) {
    const sameOrigin = url.origin === start.origin;
    const cookie = sameOrigin ? cookieHeader(sessionCookies) : undefined;
    const response = await request(url, {
      method: 'GET',
      headers: { accept: IMAGE_CONTENT_TYPES.join(', '), ...(cookie ? { cookie } : {}) },
      dispatcher: options.dispatcher,
      signal: options.signal,
    });
    const { statusCode, headers, body } = response;
    if (sameOrigin) collectSessionCookies(headers['set-cookie'], sessionCookies);

    if (REDIRECT_STATUSES.has(statusCode)) {
      await body.dump();
      const location = headerValue(headers.location);
      if (!location) throw new ScreenshotFailure(`${url.hostname} answered ${statusCode} without a Location`);
      if (redirects >= MAX_REDIRECTS)
        throw new ScreenshotFailure(`more than ${MAX_REDIRECTS} redirects, the last from ${url.hostname}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ScreenshotFailure(`${url.hostname} redirected to an invalid URL`);
      }
      url = options.allowList.check(next);
      continue;
    }
    if (statusCode < 200 || statusCode > 299) {
      await body.dump();
      throw new ScreenshotFailure(
        `${url.hostname} answered HTTP ${statusCode}`,
        isRetryableStatus(statusCode),
        statusCode,
      );
    }
    const contentType = contentTypeOf(headers);
    if (!(IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) {
      discard(body);
      throw new ScreenshotFailure(
        `${url.hostname} answered with content type '${contentType || 'none'}', not ${IMAGE_CONTENT_TYPES.join(', ')}`,
      );
    }
    const declaredLength = Number(headerValue(headers['content-length']));
    if (declaredLength > options.maxBytes) {
      discard(body);
      throw new ScreenshotFailure(
        `the image is larger than maxBytes (${declaredLength} > ${options.maxBytes} bytes); not read`,
      );
    }
    const bytes = await readAtMost(body, options.maxBytes);
    return { bytes, contentType: contentType as ImageContentType };
  }
}
