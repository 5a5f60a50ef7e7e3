/**
 * `queue.rateLimit`: events per minute from all clients together, as Butler SOS's queue rate
 * limit caps what its queue takes in. Unlike `rateLimit` (per client address) it protects the
 * destinations from the sum of every browser. Counted by @fastify/rate-limit under one key; an
 * event beyond it is answered 429 with Retry-After (never queued and dropped later).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEventsConfig } from '../config/schema.js';
import { tooManyEventsFromAllClients } from './replies.js';

/** One key for everyone: the limit is on the sum. */
const ALL_CLIENTS = 'all-clients';

export interface AllClientsLimit {
  /** A route's onRequest hook: throws the 429 once the minute's events are used up. */
  check(request: FastifyRequest): Promise<void>;
  /** Events counted in the current window (0 once it has passed), for `rate_limit_current`. */
  current(): number;
}

/** Needs the @fastify/rate-limit plugin registered on `app`. */
export function createAllClientsLimit(
  app: FastifyInstance,
  settings: AuditEventsConfig['queue']['rateLimit'],
  windowMs: number,
  now: () => number = Date.now,
): AllClientsLimit {
  const limit = app.createRateLimit({
    max: settings.maxMessagesPerMinute,
    timeWindow: windowMs,
    keyGenerator: () => ALL_CLIENTS,
  });
  let counted = { events: 0, until: 0 };
  return {
    async check(request) {
      const outcome = await limit(request);
      if (outcome.isAllowed) return;
      counted = { events: outcome.max - outcome.remaining, until: now() + outcome.ttl };
      if (outcome.isExceeded) throw tooManyEventsFromAllClients(outcome.max, outcome.ttlInSeconds);
    },
    current: () => (now() < counted.until ? counted.events : 0),
  };
}
