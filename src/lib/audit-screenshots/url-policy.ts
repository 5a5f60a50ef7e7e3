/**
 * Which image URLs may be fetched: absolute http(s) URLs whose host is on
 * `allowedImageDownloadHosts`, compared exactly and case-insensitively, at the first request
 * and at every redirect. An empty list allows nothing (fail closed). The port is not part of
 * the check, as in Butler SOS; the host name is compared as written, not its DNS answer.
 */
import { ScreenshotFailure } from './failure.js';

/**
 * An allow-list entry as URL parsing writes a host name: lower case, IDN in punycode, IPv6 in
 * brackets, so that the entry and `URL.hostname` compare equal.
 */
function normalizedHost(entry: string): string {
  const trimmed = entry.trim().toLowerCase();
  const bracketed = trimmed.includes(':') && !trimmed.startsWith('[') ? `[${trimmed}]` : trimmed;
  try {
    const parsed = new URL(`http://${bracketed}`);
    // An entry with a port, a path or credentials is no plain host name: kept as written, it matches nothing.
    const plain =
      parsed.port === '' && parsed.pathname === '/' && !parsed.username && !parsed.search && !parsed.hash;
    return plain ? parsed.hostname : trimmed;
  } catch {
    return trimmed;
  }
}

export class HostAllowList {
  private readonly hosts: ReadonlySet<string>;

  constructor(entries: readonly string[] | null) {
    this.hosts = new Set((entries ?? []).map(normalizedHost));
  }

  get isEmpty(): boolean {
    return this.hosts.size === 0;
  }

  /** The URL, once it is absolute http(s) on an allowed host; a ScreenshotFailure otherwise. */
  check(url: URL): URL {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ScreenshotFailure(`the URL scheme '${url.protocol}' is not allowed; only http and https are`);
    if (!this.hosts.has(url.hostname))
      throw new ScreenshotFailure(`host '${url.hostname}' is not in allowedImageDownloadHosts`);
    return url;
  }
}

/** The extension's URL, parsed; only absolute URLs parse. */
export function parseImageUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new ScreenshotFailure('the screenshot URL is not an absolute URL');
  }
}

/** A URL as it may appear in a log line: origin and path, without query (it may carry a ticket). */
export function loggableUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
