/**
 * What a failed InfluxDB write says about the data (SPEC 4.3, Telegraf's output policy), the
 * same for v1, v2 and v3: the writers turn every client error into an InfluxWriteError.
 */

/**
 * - transient: network error, timeout, 5xx, 408, 429: retry later, at least retryAfterMs.
 * - configuration: 401, 403, 404 (database/bucket missing) and other answers that are not
 *   about the data: keep the points, tell the user, retry.
 * - too-large: 413: split the batch.
 * - rejected: 400, 422: the server refused points of this batch (bad line, type conflict).
 */
export type InfluxWriteErrorKind = 'transient' | 'configuration' | 'too-large' | 'rejected';

export interface InfluxWriteErrorDetails {
  /** HTTP status, when the server answered. */
  status?: number;
  /** From the server's Retry-After header (seconds, or an HTTP date). */
  retryAfterMs?: number;
  /** The server's own error text. */
  serverMessage?: string;
}

export class InfluxWriteError extends Error {
  override readonly name = 'InfluxWriteError';
  constructor(
    message: string,
    readonly kind: InfluxWriteErrorKind,
    readonly details: InfluxWriteErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Longest server message kept: v3 partial-write bodies can quote many long lines. */
const MAX_SERVER_MESSAGE_CHARS = 4096;

/**
 * 400s of InfluxDB 3 about the request rather than its points (notes 1.3, from influxdb3
 * `http.rs`): the database limit, a soft-deleted database, an invalid database name, a
 * malformed Authorization header (a token with a space in it). No point could ever be written
 * with them, so they are configuration problems, never points to dead-letter. (InfluxDB 3
 * creates a missing database on write instead of answering 404.)
 */
const REQUEST_LEVEL_REFUSALS = [
  /would exceed limit of \d+ databases/i,
  /soft-deleted database/i,
  /invalid character in database or rp name|db name (did not start|cannot be empty)/i,
  /authorization header was malformed/i,
];

function refusesTheRequest(serverMessage: string | undefined): boolean {
  return serverMessage !== undefined && REQUEST_LEVEL_REFUSALS.some((pattern) => pattern.test(serverMessage));
}

export function kindOfAnswer(status: number, serverMessage?: string): InfluxWriteErrorKind {
  if (refusesTheRequest(serverMessage)) return 'configuration';
  if (status === 400 || status === 422) return 'rejected';
  if (status === 413) return 'too-large';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  // 401, 403, 404, redirects, proxies and anything else that is not about the points:
  // keeping them and retrying is safe, dead-lettering audit data on a guess is not.
  return 'configuration';
}

/** Retry-After as milliseconds: HTTP defines it as seconds or as a date (RFC 9110 10.2.3). */
export function parseRetryAfterMs(
  header: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function capped(text: string): string {
  return text.length > MAX_SERVER_MESSAGE_CHARS ? `${text.slice(0, MAX_SERVER_MESSAGE_CHARS)}…` : text;
}

/**
 * The server's error text from a response body: `{"error": …}` (v1, v3), `{"code", "message"}`
 * (v2 and the v2-compatible endpoint of v3), or plain text.
 */
export function serverMessageFromBody(body: string | undefined): string | undefined {
  const text = body?.trim();
  if (!text) return undefined;
  try {
    const json = JSON.parse(text) as { message?: unknown; error?: unknown } | null;
    const message = json?.message ?? json?.error;
    if (typeof message === 'string' && message !== '') return capped(message);
  } catch {
    // Not JSON: the text itself is the message.
  }
  return capped(text);
}

export interface HttpFailure {
  status: number;
  serverMessage?: string;
  retryAfter?: string | string[];
  cause?: unknown;
}

/** The error for a non-2xx answer. */
export function httpWriteError({ status, serverMessage, retryAfter, cause }: HttpFailure): InfluxWriteError {
  const details: InfluxWriteErrorDetails = { status };
  const retryAfterMs = parseRetryAfterMs(retryAfter);
  if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
  if (serverMessage !== undefined) details.serverMessage = serverMessage;
  const message = `InfluxDB answered HTTP ${status}${serverMessage ? `: ${serverMessage}` : ''}`;
  return new InfluxWriteError(message, kindOfAnswer(status, serverMessage), details, { cause });
}

/**
 * The error for a write without a usable answer: network error, timeout, dropped connection
 * (and, through the `influx` package, any 5xx, whose status it does not pass on).
 */
export function transportWriteError(cause: unknown): InfluxWriteError {
  const reason = cause instanceof Error ? cause.message || cause.name : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const suffix = typeof code === 'string' && !reason.includes(code) ? ` (${code})` : '';
  return new InfluxWriteError(`InfluxDB write failed: ${reason}${suffix}`, 'transient', {}, { cause });
}

/**
 * The HttpError of both @influxdata clients (influxdb-client 1.35 and influxdb3-client 2.1):
 * statusCode, the raw body and the raw response headers. Their own retry-after parsing is
 * not used: influxdb-client reads the header as milliseconds.
 */
interface InfluxdataHttpError {
  statusCode: number;
  body?: string;
  headers?: Record<string, string | string[] | undefined> | null;
}

function isInfluxdataHttpError(error: unknown): error is InfluxdataHttpError {
  return typeof (error as InfluxdataHttpError | null)?.statusCode === 'number';
}

/** Classifies whatever `@influxdata/influxdb-client` or `@influxdata/influxdb3-client` threw. */
export function fromInfluxdataClientError(error: unknown): InfluxWriteError {
  if (!isInfluxdataHttpError(error)) return transportWriteError(error);
  return httpWriteError({
    status: error.statusCode,
    serverMessage: serverMessageFromBody(error.body),
    retryAfter: error.headers?.['retry-after'],
    cause: error,
  });
}
