/**
 * The one body shape of every audit API answer, `{ status, receivedAt, outcome, reason?,
 * details? }` (docs/http-api.md, as Butler SOS upstream answers), and the mapping of any error —
 * ours, fastify's, a plugin's — onto it.
 */
import { STATUS_CODES } from 'node:http';
import { CONFIG_ROOT } from '../config/schema.js';
import { ServiceUnavailableError } from '../errors.js';
import type { ValidationError } from '../audit-events/envelope-validator.js';

export interface AuditApiReplyBody {
  status: 'accepted' | 'error';
  receivedAt: string;
  /** 'processed' is the word the extension already knows from upstream. */
  outcome: 'processed' | 'dropped' | 'error';
  reason?: string;
  details?: { errors: ValidationError[] };
}

/** An answer other than 202; `message` is the reason shown to the client. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    reason: string,
    readonly extras: {
      errors?: ValidationError[];
      headers?: Record<string, string>;
      /** The cause, for the administrator's log, where the client is told less (or more: body text). */
      problem?: string;
    } = {},
  ) {
    super(reason);
  }
}

export function acceptedReplyBody(receivedAt = new Date()): AuditApiReplyBody {
  return { status: 'accepted', receivedAt: receivedAt.toISOString(), outcome: 'processed' };
}

/** 500 is our fault ('error'); every other refusal, 503 included, drops the event. */
export function errorReplyBody(error: ApiError, receivedAt = new Date()): AuditApiReplyBody {
  return {
    status: 'error',
    receivedAt: receivedAt.toISOString(),
    outcome: error.statusCode === 500 ? 'error' : 'dropped',
    reason: error.message,
    ...(error.extras.errors === undefined ? {} : { details: { errors: error.extras.errors } }),
  };
}

export const badRequest = (
  reason: string,
  errors: ValidationError[] = [{ instancePath: '', message: reason }],
  problem?: string,
) => new ApiError(400, reason, { errors, problem });

/** The client learns only that its token did not do; `problem` (never the token) is for the log. */
export const unauthorized = (problem: string) =>
  new ApiError(401, 'missing or invalid bearer token', {
    headers: { 'WWW-Authenticate': 'Bearer' },
    problem,
  });

export const notFound = () => new ApiError(404, 'no such route');

export const unsupportedMediaType = () => new ApiError(415, 'content type must be application/json');

export const unprocessable = (errors: ValidationError[]) =>
  new ApiError(422, 'event failed validation', { errors });

export const tooManyRequests = (max: number, retryAfterSeconds: number) =>
  new ApiError(
    429,
    `rate limit exceeded: at most ${max} requests per minute; retry after ${retryAfterSeconds} s`,
  );

/** queue.rateLimit: the events of every client together; the log names the setting to raise. */
export function tooManyEventsFromAllClients(max: number, retryAfterSeconds: number): ApiError {
  const seconds = Math.max(1, retryAfterSeconds);
  return new ApiError(
    429,
    `rate limit exceeded: at most ${max} events per minute from all clients together; retry after ${seconds} s`,
    {
      headers: { 'Retry-After': String(seconds) },
      problem:
        `more than ${max} events in a minute from all clients together; raise ` +
        `${CONFIG_ROOT}.queue.rateLimit.maxMessagesPerMinute if the destinations keep up`,
    },
  );
}

const internalError = () => new ApiError(500, 'internal error');

function serviceUnavailable(error: ServiceUnavailableError): ApiError {
  const retryAfterSeconds = Math.max(1, Math.ceil(error.retryAfterSeconds));
  return new ApiError(503, error.message, { headers: { 'Retry-After': String(retryAfterSeconds) } });
}

interface ErrorWithStatus {
  statusCode?: unknown;
  code?: unknown;
}

/** fastify's own client errors, reworded for the client. */
function fromFastifyCode(code: unknown, bodyLimitBytes: number): ApiError | undefined {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, `body larger than ${bodyLimitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedMediaType();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return badRequest('body length does not match Content-Length');
    default:
      return undefined;
  }
}

/**
 * Any thrown value as an ApiError. Client errors keep their status; anything unexpected
 * becomes a bare 500, whose body never carries a message, stack or other internals.
 */
export function toApiError(error: unknown, bodyLimitBytes: number): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ServiceUnavailableError) return serviceUnavailable(error);
  const candidate = (typeof error === 'object' && error !== null ? error : {}) as ErrorWithStatus;
  const known = fromFastifyCode(candidate.code, bodyLimitBytes);
  if (known) return known;
  const statusCode = candidate.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const reason = (STATUS_CODES[statusCode] ?? 'client error').toLowerCase();
    return statusCode === 400 ? badRequest(reason) : new ApiError(statusCode, reason);
  }
  return internalError();
}
