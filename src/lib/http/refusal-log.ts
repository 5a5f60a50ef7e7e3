/**
 * What an administrator reads when the API refuses a request: a warning naming the cause and
 * the setting to change, at most one a minute per kind and origin, with a count
 * (throttled-warnings.ts). Never a token, never a payload: only what the module itself says
 * about them, and the client's address, origin and path, escaped (log-text.ts).
 */
import type { FastifyRequest } from 'fastify';
import { CONFIG_ROOT, type AuditEventsConfig } from '../config/schema.js';
import { ALLOWED_ORIGINS_SETTING, isCorsPreflight, type OriginPolicy } from './cors.js';
import { logText } from './log-text.js';
import type { ApiError } from './replies.js';
import { AUDIT_API_ROUTES } from './routes.js';
import type { ThrottledWarnings } from './throttled-warnings.js';

/** The refusals worth a warning; 500 is logged as an error where it happens, 503 by the log. */
type RefusalKind = 'origin' | 'token' | 'validation' | 'rate limit' | 'route';

const VALIDATION_STATUSES = new Set([400, 413, 415, 422]);
/** Enough to see what is wrong; an envelope wrong in a hundred ways needs no hundred lines. */
const MAX_LISTED_ERRORS = 5;
const EVENT_ROUTE = `POST ${AUDIT_API_ROUTES.event}`;

export interface RefusalLog {
  /** Counts the refusal, and warns about it unless its kind and origin did within the minute. */
  refused(request: FastifyRequest, error: ApiError): void;
}

export interface RefusalLogSettings {
  origins: OriginPolicy;
  rateLimit: AuditEventsConfig['rateLimit'];
  trustProxy: boolean;
}

/** The kind of a refusal, or undefined when it is not one an administrator needs at warn. */
function refusalKind(
  request: FastifyRequest,
  status: number,
  origins: OriginPolicy,
): RefusalKind | undefined {
  // The rate limit answers before anything else is looked at.
  if (status === 429) return 'rate limit';
  if (isCorsPreflight(request) && !origins.allows(request.headers.origin)) return 'origin';
  if (status === 401) return 'token';
  if (VALIDATION_STATUSES.has(status)) return 'validation';
  if (status === 404) return 'route';
  return undefined;
}

/** Where a request came from, as the administrator can look it up: the address, and the page's origin. */
function client(request: FastifyRequest): string {
  const origin = request.headers.origin;
  return `${request.ip}${origin === undefined ? '' : ` (origin '${logText(origin)}')`}`;
}

function route(request: FastifyRequest): string {
  return `${request.method} ${logText(request.url.split('?')[0])}`;
}

/** A 415 names what was sent instead: a page posting text/plain to dodge the preflight, say. */
function sentContentType(request: FastifyRequest, status: number): string {
  if (status !== 415) return '';
  const sent = request.headers['content-type'];
  return sent === undefined ? ' (no Content-Type sent)' : ` (sent: '${logText(sent, 100)}')`;
}

/** The reason and, for a schema or semantic refusal, which fields failed: the module's words, not the body's. */
function validationReason(error: ApiError): string {
  const errors = error.extras.errors ?? [];
  const reason = error.extras.problem ?? error.message;
  const listed = errors.filter((item) => item.message !== error.message);
  if (error.extras.problem !== undefined || listed.length === 0) return logText(reason, 300);
  const shown = listed
    .slice(0, MAX_LISTED_ERRORS)
    .map((item) => `${item.instancePath || '/'} ${item.message}`)
    .join('; ');
  const more = listed.length > MAX_LISTED_ERRORS ? `; and ${listed.length - MAX_LISTED_ERRORS} more` : '';
  return `${reason}: ${logText(shown, 600)}${more}`;
}

function message(kind: RefusalKind, request: FastifyRequest, error: ApiError, settings: RefusalLogSettings) {
  const status = error.statusCode;
  switch (kind) {
    case 'origin':
      return (
        `audit API: refused a CORS preflight from ${request.ip} for origin '${logText(request.headers.origin ?? '')}' ` +
        `(answered ${status}): it is not in ${ALLOWED_ORIGINS_SETTING} (${settings.origins.describe()}), ` +
        'so the browser blocks every event that pages of that origin post. If Qlik Sense is served ' +
        'from there, add that origin to the list'
      );
    case 'token':
      return `audit API: refused ${route(request)} from ${client(request)} with 401: ${error.extras.problem ?? error.message}`;
    case 'validation':
      return `audit API: refused ${route(request)} from ${client(request)} with ${status}: ${validationReason(error)}${sentContentType(request, status)}`;
    case 'rate limit':
      if (error.extras.problem !== undefined)
        return `audit API: refused ${route(request)} from ${client(request)} with 429: ${error.extras.problem}`;
      return (
        `audit API: refused ${route(request)} from ${client(request)} with 429: more than ` +
        `${settings.rateLimit.maxPerMinute} requests in a minute from that address; raise ` +
        `${CONFIG_ROOT}.rateLimit.maxPerMinute` +
        (settings.trustProxy ? '' : ', or set trustProxy: true if a reverse proxy forwards for many users')
      );
    case 'route':
      return `audit API: refused ${route(request)} from ${client(request)} with 404: no such route; Audit.qs posts to ${EVENT_ROUTE}`;
  }
}

export function createRefusalLog(throttled: ThrottledWarnings, settings: RefusalLogSettings): RefusalLog {
  return {
    refused(request, error) {
      const kind = refusalKind(request, error.statusCode, settings.origins);
      if (kind === undefined) return;
      throttled.warn(
        kind,
        request.headers.origin ?? 'no Origin header',
        message(kind, request, error, settings),
      );
    },
  };
}
