/**
 * The audit API over real HTTP, as a client sees it: posting events as Audit.qs does (one at a
 * time, a fixed number at once, or a steady stream from several senders, counting every
 * answer) and reading the health of the destinations.
 */
import type { IncomingHttpHeaders, IncomingMessage, ClientRequest } from 'node:http';
import type { RequestOptions } from 'node:https';
import type { DeliveryStatus as DestinationStatus } from '../../src/lib/delivery/delivery-loop.js';
import { sleep } from './eventually.js';
import { freshEnvelope } from './fixtures.js';

export async function postAuditEvent(baseUrl: string, body: unknown): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/audit-event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Posts one body and returns the status; the answer is read so that no socket is left waiting. */
export async function postAuditEventStatus(baseUrl: string, body: unknown): Promise<number> {
  const response = await postAuditEvent(baseUrl, body);
  await response.arrayBuffer();
  return response.status;
}

/** One destination's status from GET /api/v1/health (answered 200 or 503, both with the statuses). */
export async function destinationHealth(baseUrl: string, id: string): Promise<DestinationStatus> {
  const response = await fetch(`${baseUrl}/api/v1/health`);
  const body = (await response.json()) as { destinations: DestinationStatus[] };
  const status = body.destinations.find((destination) => destination.id === id);
  if (!status) throw new Error(`no destination '${id}' in /api/v1/health`);
  return status;
}

/** An answer read by rawJsonRequest: status, headers as node gives them, the parsed JSON body. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests index into the answers
  body: any;
}

/**
 * One request through node:http's or node:https's `request`, for what fetch cannot send: a
 * header repeated on several lines, a client certificate, a CA of our own.
 */
export function rawJsonRequest(
  send: (options: RequestOptions, onResponse: (response: IncomingMessage) => void) => ClientRequest,
  options: RequestOptions,
  body?: string,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = send({ agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** An answer other than 202, as the client saw it. */
export interface Refusal {
  status: number;
  retryAfter: string | null;
  /** The JSON body (the raw text when it is not JSON). */
  body: unknown;
}

export interface LoadResult {
  /** eventIds answered 202, in the order the answers came. */
  accepted: string[];
  /** How many answers of each status ('no answer' when the connection failed). */
  statuses: Map<number | string, number>;
  /** Every answer's status, in the order the answers came. */
  answers: Array<number | string>;
  refusals: Refusal[];
}

function freshEvent() {
  return freshEnvelope('object.view.duration', { timestamp: new Date().toISOString() });
}

/** Posts one fresh event and adds its answer to `result`. */
async function postAndCount(baseUrl: string, result: LoadResult): Promise<void> {
  const envelope = freshEvent();
  const count = (key: number | string) => {
    result.statuses.set(key, (result.statuses.get(key) ?? 0) + 1);
    result.answers.push(key);
  };
  let response: Response;
  try {
    response = await postAuditEvent(baseUrl, envelope);
  } catch {
    count('no answer'); // the process was killed mid-request: not accepted
    await sleep(5);
    return;
  }
  count(response.status);
  // The status line is the answer: a 202 counts as accepted even if a kill cuts the body off.
  const text = await response.text().catch(() => '');
  if (response.status === 202) {
    result.accepted.push(envelope.eventId);
    return;
  }
  result.refusals.push({
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: jsonOrText(text),
  });
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function emptyResult(): LoadResult {
  return { accepted: [], statuses: new Map(), answers: [], refusals: [] };
}

/**
 * Posts fresh events from `concurrency` senders until `until` resolves, or, given a function,
 * until it returns true for the answers so far.
 */
export async function sendEventsUntil(
  baseUrl: string,
  until: Promise<unknown> | ((soFar: LoadResult) => boolean),
  concurrency = 20,
): Promise<LoadResult> {
  const result = emptyResult();
  let done = false;
  if (typeof until !== 'function') void until.then(() => (done = true));
  const finished = () => done || (typeof until === 'function' && until(result));
  const sender = async () => {
    while (!finished()) await postAndCount(baseUrl, result);
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  return result;
}

/** Posts `count` fresh events, `concurrency` at a time. */
export async function postEvents(baseUrl: string, count: number, concurrency = 10): Promise<LoadResult> {
  const result = emptyResult();
  let started = 0;
  const sender = async () => {
    while (started < count) {
      started += 1;
      await postAndCount(baseUrl, result);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  return result;
}
