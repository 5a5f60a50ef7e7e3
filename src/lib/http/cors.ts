/**
 * Which web pages may call the audit API from a browser (`cors.allowedOrigins`), and how their
 * CORS preflights are answered. Audit.qs posts JSON with a bearer token from a page of the
 * Qlik Sense site, so every POST it sends is preceded by a preflight the browser must see allowed.
 */
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CONFIG_ROOT } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { logText } from './log-text.js';

/** Chromium caches a preflight for at most 2 hours (Firefox for 24): a longer max-age gains nothing. */
export const PREFLIGHT_MAX_AGE_SECONDS = 7200;

export const ALLOWED_ORIGINS_SETTING = `${CONFIG_ROOT}.cors.allowedOrigins`;

export interface OriginPolicy {
  /** `'*'` is in the list: any page may call the API. */
  allowsAny: boolean;
  /** The list is empty: no page may, and no answer carries CORS headers. */
  allowsNone: boolean;
  /** Whether pages of this origin (the Origin header) may call the API. */
  allows(origin: string | undefined): boolean;
  /** The list as configured, for messages: `'https://a', 'https://b'`, or `empty`. */
  describe(): string;
  /** Entries that can never match a browser's Origin, each with what to write instead. */
  problems: string[];
}

/**
 * An entry as a browser would send it: `https://Qlik.example.com:443/hub/` becomes
 * `https://qlik.example.com`. Undefined when the entry is not an address with a host.
 */
function asOrigin(entry: string): string | undefined {
  try {
    const origin = new URL(entry.trim()).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

export function createOriginPolicy(allowedOrigins: readonly string[]): OriginPolicy {
  const allowAny = allowedOrigins.includes('*');
  const origins = new Set<string>();
  const problems: string[] = [];
  for (const entry of allowedOrigins) {
    if (entry === '*') continue;
    const origin = asOrigin(entry);
    if (origin) origins.add(origin);
    else
      problems.push(
        `${ALLOWED_ORIGINS_SETTING}: '${entry}' is not an origin and never matches; write the Qlik Sense ` +
          "site's address as a browser shows it: scheme, host and port if not the default (https://qlik.example.com)",
      );
  }
  return {
    allowsAny: allowAny,
    allowsNone: allowedOrigins.length === 0,
    allows: (origin) => origin !== undefined && (allowAny || origins.has(origin)),
    describe: () =>
      allowedOrigins.length === 0 ? 'empty' : allowedOrigins.map((entry) => `'${entry}'`).join(', '),
    problems,
  };
}

/** A browser's CORS preflight: OPTIONS with the Origin and the method it wants to send. */
export function isCorsPreflight(request: FastifyRequest): boolean {
  return (
    request.method === 'OPTIONS' &&
    request.headers.origin !== undefined &&
    request.headers['access-control-request-method'] !== undefined
  );
}

/**
 * Answers allowed origins' preflights (204, no token needed) and adds the CORS headers to every
 * answer they get. Other origins get no CORS headers: their preflight goes on to the token
 * check (401), or finds no route (404) when no token is set, and the browser blocks the POST.
 * Add it before the rate limit and the token check: an allowed origin's 429 and 401 then carry
 * the headers the page needs to read them, and a preflight (which carries no event) costs the
 * client nothing of its rate.
 */
export async function addCors(app: FastifyInstance, policy: OriginPolicy, logger: Logger): Promise<void> {
  if (policy.allowsNone) return;
  await app.register(cors, {
    // A function rather than the list: given a list, the plugin answers every origin's
    // preflight with 204; with `false` it steps aside, so the token check refuses it.
    origin: (origin, callback) => {
      if (!policy.allows(origin)) callback(null, false);
      else callback(null, policy.allowsAny ? '*' : (origin as string));
    },
    methods: ['GET', 'POST'],
    // No allowedHeaders (the key left out: `undefined` would send an empty list): the plugin
    // allows the headers the preflight asks for. Pages of a Qlik Sense site add their own
    // (x-qlik-web-integration-id, x-qlik-xrfkey); a fixed list would make the browser drop
    // every POST without the server ever seeing it.
    // A page reads only a few response headers unless named here: Retry-After of a 429 or 503.
    exposedHeaders: ['Retry-After'],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    // A malformed preflight from an allowed origin gets an empty 204, not a text/plain 400.
    strictPreflight: false,
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!isCorsPreflight(request) || reply.statusCode !== 204) return;
    const { origin, 'access-control-request-method': method } = request.headers;
    const headers = request.headers['access-control-request-headers'] ?? 'none';
    logger.debug(
      `audit API: CORS preflight from origin '${logText(origin ?? '')}' for ${logText(method ?? '')} ` +
        `${logText(request.url)} (headers: ${logText(headers)}) allowed; ` +
        `browsers keep the answer for up to ${PREFLIGHT_MAX_AGE_SECONDS} s`,
    );
  });
}
