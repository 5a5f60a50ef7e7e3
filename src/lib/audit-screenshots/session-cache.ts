/**
 * The optional cache of Qlik sessions (`auth.sessionCache`): a session opened with a ticket is
 * reused for the next images of the same user and virtual proxy for up to ttlSeconds, instead
 * of a ticket per image. A session that leaves the cache (evicted, expired, refused, replaced,
 * or at close) is ended at the Qlik Proxy Service, so none stays open after its use.
 */
import { LRUCache } from 'lru-cache';

export interface QlikSession {
  virtualProxy: string;
  /** Its `X-Qlik-Session*` cookies, name → session id. */
  cookies: ReadonlyMap<string, string>;
}

export interface SessionCacheOptions {
  maxEntries: number;
  ttlSeconds: number;
}

export class QlikSessionCache {
  private readonly cache: LRUCache<string, QlikSession>;

  constructor(options: SessionCacheOptions, endSession: (session: QlikSession) => void) {
    this.cache = new LRUCache<string, QlikSession>({
      max: options.maxEntries,
      ttl: options.ttlSeconds * 1000,
      ttlAutopurge: true,
      updateAgeOnGet: false,
      dispose: (session) => endSession(session),
    });
  }

  static key(virtualProxy: string, userDirectory: string, userId: string): string {
    return JSON.stringify([virtualProxy.toLowerCase(), userDirectory, userId]);
  }

  get(key: string): QlikSession | undefined {
    return this.cache.get(key);
  }

  set(key: string, session: QlikSession): void {
    this.cache.set(key, session);
  }

  /** Forgets (and so ends) a session the server no longer accepts. */
  delete(key: string, session: QlikSession): void {
    if (this.cache.get(key) === session) this.cache.delete(key);
  }

  /** Ends every cached session. */
  clear(): void {
    this.cache.clear();
  }
}
