/**
 * HTTP plumbing of the emulator: reading a request, recording it, delivering the outcome
 * (an answer, a held request or a dropped connection), and the reply and body helpers that
 * the routes share.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { EmulatorState, RecordedRequest } from './state.js';

export interface RequestContext {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as received (before any Content-Encoding is undone). */
  body: Buffer;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Outcome = Reply | 'hold' | 'drop';

export type Handler = (ctx: RequestContext, state: EmulatorState) => Promise<Outcome> | Outcome;

export interface Route {
  method: string;
  path: string;
  handler: Handler;
  /** Answers without a token. */
  public?: boolean;
  /** Counts in `stats` and consumes the queued faults. */
  write?: boolean;
}

/** Reads the request, records it, lets `dispatch` decide the outcome and delivers it. */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  state: EmulatorState,
  dispatch: (ctx: RequestContext) => Promise<Outcome> | Outcome,
): Promise<void> {
  let ctx: RequestContext;
  try {
    ctx = await readRequest(req);
  } catch {
    res.destroy(); // the client went away while sending
    return;
  }
  const record = recordRequest(ctx, state);
  let outcome: Outcome;
  try {
    outcome = await dispatch(ctx);
  } catch (error) {
    outcome = internalError(state.version, error instanceof Error ? error.message : String(error));
  }
  deliver(outcome, res, record, state);
}

async function readRequest(req: IncomingMessage): Promise<RequestContext> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://emulator');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body: Buffer.concat(chunks),
  };
}

function recordRequest(ctx: RequestContext, state: EmulatorState): RecordedRequest {
  const record: RecordedRequest = {
    method: ctx.method,
    path: ctx.path,
    query: Object.fromEntries(ctx.query),
    headers: ctx.headers,
    receivedAt: Date.now(),
  };
  state.requests.push(record);
  return record;
}

function deliver(outcome: Outcome, res: ServerResponse, record: RecordedRequest, state: EmulatorState): void {
  if (outcome === 'drop') {
    record.outcome = 'dropped';
    res.socket?.destroy();
  } else if (outcome === 'hold') {
    record.outcome = 'held';
    state.held.add(res);
    res.once('close', () => state.held.delete(res));
  } else {
    record.outcome = 'answered';
    record.status = outcome.status;
    res.writeHead(outcome.status, outcome.headers);
    res.end(outcome.body);
  }
}

export function countWrite(ctx: RequestContext, state: EmulatorState): void {
  state.stats.writeRequests += 1;
  state.stats.bytes += ctx.body.length;
  if (V2_GZIP_ENCODINGS.includes(contentEncoding(ctx))) state.stats.gzipRequests += 1;
  if (ctx.query.get('no_sync') === 'true') state.stats.noSyncRequests += 1;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

export function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** v2 error body `{"code","message"}` [notes §1.2]; v3's v2-compatible write uses it too [v3 http.rs V2ErrorResponse]. */
export function v2Error(status: number, code: string, message: string): Reply {
  return json(status, { code, message });
}

/** v3 error body `{"error"[,"data"]}`, `data` left out when empty [v3 http.rs ErrorMessage]. */
export function v3Error(status: number, error: string, data?: unknown): Reply {
  return json(status, data === undefined ? { error } : { error, data });
}

export function notFound(version: 2 | 3): Reply {
  return version === 2 ? v2Error(404, 'not found', 'path not found') : text(404, 'not found');
}

export function internalError(version: 2 | 3, message: string): Reply {
  return version === 2 ? v2Error(500, 'internal error', message) : text(500, message);
}

/** v2 accepts both names [notes §1.2]; v3 only `gzip` ([v3 http.rs] `read_body`). */
export const V2_GZIP_ENCODINGS = ['gzip', 'x-gzip'];
export const V3_GZIP_ENCODINGS = ['gzip'];

function contentEncoding(ctx: RequestContext): string {
  return (ctx.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/**
 * The body with its Content-Encoding undone, the reason it cannot be, or `tooLarge` when it
 * is over `maxBytes` as sent or once decompressed (InfluxDB 3 limits both: influxdb3
 * `influxdb3_server/src/http.rs` `read_body`).
 */
export function decodeBody(
  ctx: RequestContext,
  acceptedGzipNames: string[],
  maxBytes: number,
): { text: string } | { error: string } | { tooLarge: true } {
  const encoding = contentEncoding(ctx);
  if (encoding !== 'identity' && !acceptedGzipNames.includes(encoding))
    return { error: `unacceptable content-encoding: ${encoding}` };
  if (ctx.body.length > maxBytes) return { tooLarge: true };
  if (encoding === 'identity') return { text: ctx.body.toString('utf8') };
  let inflated: Buffer;
  try {
    inflated = gunzipSync(ctx.body);
  } catch (error) {
    return { error: `error decoding gzip stream: ${(error as Error).message}` };
  }
  return inflated.length > maxBytes ? { tooLarge: true } : { text: inflated.toString('utf8') };
}

export function parseJsonBody(ctx: RequestContext): { value: Record<string, unknown> } | { error: string } {
  try {
    const value: unknown = JSON.parse(ctx.body.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { error: 'expected a JSON object' };
    return { value: value as Record<string, unknown> };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
