/**
 * How one attempt fetches an image, per `auth.mode`:
 * - none: a plain GET;
 * - qpsTicket: a Qlik Proxy Service ticket for the configured service user, appended to the URL
 *   as `qlikTicket=`; the QPS is called over mutual TLS (http-agent.ts);
 * - userTicket: the same for the user named in the event, and only for `/tempcontent/` paths
 *   (of the default proxy or of `auth.qps.virtualProxy`): the page that sends the event picks
 *   the user, so this mode must not open anything else in that user's name.
 * With `auth.sessionCache`, a ticket's session is reused until it expires or fails (then a new
 * ticket at once); without it, each session is ended after its image.
 */
import type { Dispatcher } from 'undici';
import type { ScreenshotsConfig } from '../config/screenshots-schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { ScreenshotFailure } from './failure.js';
import { fetchImage, type FetchedImage } from './image-request.js';
import { QpsClient, type QlikUser } from './qps-client.js';
import type { ScreenshotRequest } from './request.js';
import { QlikSessionCache, type QlikSession } from './session-cache.js';
import type { HostAllowList } from './url-policy.js';

export interface ImageSource {
  /** One attempt: the image at `url` (already on the allow-list), or a ScreenshotFailure. */
  fetch(url: URL, request: ScreenshotRequest, signal: AbortSignal): Promise<FetchedImage>;
  /** Ends the cached sessions and waits for every session being ended. */
  close(): Promise<void>;
}

export interface ImageSourceOptions {
  config: ScreenshotsConfig;
  dispatcher: Dispatcher;
  allowList: HostAllowList;
  logger: Logger;
}

/** Encoded separators and dots would let a server read a path other than the one checked. */
const ENCODED_PATH_TRICK = /%2f|%5c|%2e|%00/i;

/** One GET of `url` with these options, sending and collecting `sessionCookies`. */
function getImage(
  options: ImageSourceOptions,
  url: URL,
  sessionCookies: Map<string, string>,
  signal: AbortSignal,
): Promise<FetchedImage> {
  const { dispatcher, allowList, config } = options;
  return fetchImage(url, { dispatcher, allowList, maxBytes: config.maxBytes, signal, sessionCookies });
}

class PlainImageSource implements ImageSource {
  constructor(private readonly options: ImageSourceOptions) {}

  fetch(url: URL, _request: ScreenshotRequest, signal: AbortSignal): Promise<FetchedImage> {
    return getImage(this.options, url, new Map(), signal);
  }

  async close(): Promise<void> {}
}

interface TicketTarget {
  virtualProxy: string;
  user: QlikUser;
}

class TicketImageSource implements ImageSource {
  private readonly qps: QpsClient;
  private readonly cache: QlikSessionCache | null;
  private readonly endings = new Set<Promise<void>>();

  constructor(private readonly options: ImageSourceOptions) {
    const { qps, sessionCache } = options.config.auth;
    this.qps = new QpsClient(
      { host: qps.host ?? '', port: qps.port, ticketTimeoutMs: qps.ticketTimeoutMs },
      options.dispatcher,
    );
    this.cache = sessionCache.enable
      ? new QlikSessionCache(sessionCache, (session) => this.end(session))
      : null;
  }

  async fetch(url: URL, request: ScreenshotRequest, signal: AbortSignal): Promise<FetchedImage> {
    const target = this.targetOf(url, request);
    const key = QlikSessionCache.key(target.virtualProxy, target.user.userDirectory, target.user.userId);
    const cached = this.cache?.get(key);
    if (cached) {
      try {
        return await getImage(this.options, url, new Map(cached.cookies), signal);
      } catch (error) {
        // An ended session gets 401, 403 or the login page (a redirect, then HTML): whatever
        // went wrong, unless time ran out, the session is dropped and a new ticket tried at once.
        if (signal.aborted) throw error;
        this.cache?.delete(key, cached);
      }
    }
    const ticket = await this.qps.requestTicket(target.virtualProxy, target.user, signal);
    const cookies = new Map<string, string>();
    const session: QlikSession = { virtualProxy: target.virtualProxy, cookies };
    let kept = false;
    try {
      const image = await getImage(this.options, withTicket(url, ticket), cookies, signal);
      if (this.cache && session.cookies.size > 0) {
        this.cache.set(key, session);
        kept = true;
      }
      return image;
    } finally {
      // A session not kept for later (no cache, or the attempt failed) ends now.
      if (!kept && session.cookies.size > 0) this.end(session);
    }
  }

  async close(): Promise<void> {
    this.cache?.clear();
    await Promise.all(this.endings);
  }

  private targetOf(url: URL, request: ScreenshotRequest): TicketTarget {
    const { mode, qps } = this.options.config.auth;
    if (mode === 'qpsTicket')
      return {
        virtualProxy: qps.virtualProxy,
        user: { userDirectory: qps.userDirectory ?? '', userId: qps.userId ?? '' },
      };
    if (!request.identity)
      throw new ScreenshotFailure('auth.mode userTicket needs the event to name its user as DIRECTORY\\user');
    return { virtualProxy: userTicketVirtualProxy(url, qps.virtualProxy), user: request.identity };
  }

  /** Ends a session at the QPS in the background; close() waits for it. */
  private end(session: QlikSession): void {
    for (const sessionId of new Set(session.cookies.values())) {
      const ending = this.qps
        .deleteSession(session.virtualProxy, sessionId)
        .catch((error: unknown) =>
          this.options.logger.warn(
            `screenshots: could not end a Qlik session at the Qlik Proxy Service (it ends when it times out): ${errorMessage(error)}`,
          ),
        )
        .finally(() => this.endings.delete(ending));
      this.endings.add(ending);
    }
  }
}

/** The image URL with the ticket appended, the rest of its query left as sent. */
function withTicket(url: URL, ticket: string): URL {
  const ticketed = new URL(url);
  ticketed.search = `${url.search ? `${url.search}&` : '?'}qlikTicket=${encodeURIComponent(ticket)}`;
  return ticketed;
}

/**
 * The virtual proxy whose session a userTicket download opens: '' for `/tempcontent/…`,
 * `auth.qps.virtualProxy` for `/<virtualProxy>/tempcontent/…`; any other path is refused.
 */
export function userTicketVirtualProxy(url: URL, virtualProxy: string): string {
  const path = url.pathname;
  if (!ENCODED_PATH_TRICK.test(path)) {
    if (path.startsWith('/tempcontent/')) return '';
    if (virtualProxy && path.toLowerCase().startsWith(`/${virtualProxy.toLowerCase()}/tempcontent/`))
      return virtualProxy;
  }
  throw new ScreenshotFailure(
    `auth.mode userTicket fetches only /tempcontent/ paths${virtualProxy ? ` (or /${virtualProxy}/tempcontent/)` : ''}, not '${path}'`,
  );
}

export function createImageSource(options: ImageSourceOptions): ImageSource {
  return options.config.auth.mode === 'none' ? new PlainImageSource(options) : new TicketImageSource(options);
}
