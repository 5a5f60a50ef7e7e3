/**
 * What a failed InfluxDB write says about the data (docs/influxdb.md, Telegraf's output policy), the
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

/**
 * Longest server message kept: v3 partial-write bodies can quote many long lines. Its end is
 * kept as well as its start: InfluxDB 1.x and 2.x quote the refused line first and give the
 * reason after it (`unable to parse '<line>': max key length exceeded: …`).
 */
const MAX_SERVER_MESSAGE_CHARS = 4096;

interface HttpFailure {
  /** The InfluxDB version that answered: some answers mean different things per version. */
  version: 1 | 2 | 3;
  status: number;
  serverMessage?: string;
  retryAfter?: string | string[];
  cause?: unknown;
}

/**
 * 400s (422 for the database limit) of InfluxDB 3 about the request rather than its points
 * (notes 1.3, from influxdb3 `http.rs`): the database limit, a soft-deleted database, an
 * invalid database name, a malformed Authorization header (a token with a space in it). No
 * point could ever be written with them, so they are configuration problems, never points to
 * dead-letter. (InfluxDB 3 creates a missing database on write instead of answering 404.)
 *
 * Only v3 sends them, and always as its whole message, at most after prefixes naming where the
 * error arose (`write buffer error: `). They are anchored there because other 400s quote the
 * refused line (v1 and v2: `unable to parse '<line>'`): an event holding such text must stay a
 * refused point, or it would be retried forever and block every event behind it. A prefix
 * cannot reach into a line: every line has an `=` before any event data.
 */
const REQUEST_LEVEL_REFUSALS = [
  /^adding a new database would exceed limit of \d+ databases/i,
  /^cannot write to soft-deleted database/i,
  /^(invalid character in database or rp name|db name (did not start|cannot be empty))/i,
  /^authorization header was malformed/i,
];

/** `write buffer error: catalog error: ` and the like. */
const ERROR_CONTEXT_PREFIXES = /^([a-z][a-z ]*: )*/i;

function refusesTheRequest({ version, status, serverMessage }: HttpFailure): boolean {
  if (version !== 3 || (status !== 400 && status !== 422) || serverMessage === undefined) return false;
  const message = serverMessage.replace(ERROR_CONTEXT_PREFIXES, '');
  return REQUEST_LEVEL_REFUSALS.some((pattern) => pattern.test(message));
}

function kindOfAnswer(failure: HttpFailure): InfluxWriteErrorKind {
  const { status } = failure;
  if (refusesTheRequest(failure)) return 'configuration';
  if (status === 400 || status === 422) return 'rejected';
  if (status === 413) return 'too-large';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  // 401, 403, 404, redirects, proxies and anything else that is not about the points:
  // keeping them and retrying is safe, dead-lettering audit data on a guess is not.
  return 'configuration';
}

/** 401 and 403: the server refused the credentials, or they lack the permission. */
export function refusesCredentials(status: number | undefined): boolean {
  return status === 401 || status === 403;
}

/** Retry-After as milliseconds: HTTP defines it as seconds or as a date (RFC 9110 10.2.3). */
function parseRetryAfterMs(
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
  if (text.length <= MAX_SERVER_MESSAGE_CHARS) return text;
  const half = MAX_SERVER_MESSAGE_CHARS / 2;
  return `${text.slice(0, half)}…${text.slice(-half)}`;
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

/** The error for a non-2xx answer. */
export function httpWriteError(failure: HttpFailure): InfluxWriteError {
  const { status, serverMessage, retryAfter, cause } = failure;
  const details: InfluxWriteErrorDetails = { status };
  const retryAfterMs = parseRetryAfterMs(retryAfter);
  if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
  if (serverMessage !== undefined) details.serverMessage = serverMessage;
  const message = `InfluxDB answered HTTP ${status}${serverMessage ? `: ${serverMessage}` : ''}`;
  return new InfluxWriteError(message, kindOfAnswer(failure), details, { cause });
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

/** The HTTP status of what an @influxdata client threw, when the server answered. */
export function httpStatusOf(error: unknown): number | undefined {
  return isInfluxdataHttpError(error) ? error.statusCode : undefined;
}

/** Classifies whatever `@influxdata/influxdb-client` (v2) or `@influxdata/influxdb3-client` (v3) threw. */
export function fromInfluxdataClientError(error: unknown, version: 2 | 3): InfluxWriteError {
  if (!isInfluxdataHttpError(error)) return transportWriteError(error);
  return httpWriteError({
    version,
    status: error.statusCode,
    serverMessage: serverMessageFromBody(error.body),
    retryAfter: error.headers?.['retry-after'],
    cause: error,
  });
}
