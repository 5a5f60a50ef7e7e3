/**
 * The Qlik Proxy Service API the ticket modes use, over mutual TLS: POST
 * `/qps[/<virtualProxy>]/ticket` asks for a one-time ticket for a user, DELETE
 * `/qps[/<virtualProxy>]/session/<id>` ends a session. Every call carries an Xrfkey, the same
 * 16 characters in the query and in the `X-Qlik-Xrfkey` header, as the QPS requires.
 */
import { randomBytes } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { isRetryableStatus, requestFailure, ScreenshotFailure } from './failure.js';

export interface QpsEndpoint {
  host: string;
  port: number;
  ticketTimeoutMs: number;
}

export interface QlikUser {
  userDirectory: string;
  userId: string;
}

function xrfkey(): string {
  return randomBytes(8).toString('hex');
}

export class QpsClient {
  constructor(
    private readonly endpoint: QpsEndpoint,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** The QPS path of a resource, under a virtual proxy prefix ('' for the default proxy). */
  private url(virtualProxy: string, resource: string, key: string): URL {
    const prefix = virtualProxy ? `/${encodeURIComponent(virtualProxy)}` : '';
    const { host, port } = this.endpoint;
    return new URL(`https://${host}:${port}/qps${prefix}/${resource}?Xrfkey=${key}`);
  }

  /** A one-time ticket for `user` at `virtualProxy`: valid for one request, within a minute. */
  async requestTicket(virtualProxy: string, user: QlikUser, signal: AbortSignal): Promise<string> {
    const key = xrfkey();
    const timeout = AbortSignal.timeout(this.endpoint.ticketTimeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.url(virtualProxy, 'ticket', key), {
        method: 'POST',
        headers: { 'x-qlik-xrfkey': key, 'content-type': 'application/json' },
        body: JSON.stringify({ UserDirectory: user.userDirectory, UserId: user.userId, Attributes: [] }),
        dispatcher: this.dispatcher,
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (error) {
      if (signal.aborted) throw error;
      const failure = requestFailure(
        error,
        timeout,
        `no answer within ticketTimeoutMs (${this.endpoint.ticketTimeoutMs} ms)`,
      );
      throw new ScreenshotFailure(
        `the Qlik Proxy Service gave no ticket: ${failure.reason}`,
        failure.retryable,
      );
    }
    const { statusCode, body } = response;
    if (statusCode !== 200 && statusCode !== 201) {
      await body.dump();
      throw new ScreenshotFailure(
        `the Qlik Proxy Service refused a ticket for ${user.userDirectory}\\${user.userId}: HTTP ${statusCode}`,
        isRetryableStatus(statusCode),
        statusCode,
      );
    }
    const answer = (await body.json().catch(() => null)) as { Ticket?: unknown } | null;
    if (typeof answer?.Ticket !== 'string' || answer.Ticket === '')
      throw new ScreenshotFailure('the Qlik Proxy Service answered without a ticket', true);
    return answer.Ticket;
  }

  /** Ends a session; a session already gone (404) counts as ended. */
  async deleteSession(virtualProxy: string, sessionId: string): Promise<void> {
    const key = xrfkey();
    const response = await request(this.url(virtualProxy, `session/${encodeURIComponent(sessionId)}`, key), {
      method: 'DELETE',
      headers: { 'x-qlik-xrfkey': key },
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(this.endpoint.ticketTimeoutMs),
    });
    await response.body.dump();
    if (response.statusCode >= 300 && response.statusCode !== 404)
      throw new Error(`the Qlik Proxy Service answered HTTP ${response.statusCode}`);
  }
}
