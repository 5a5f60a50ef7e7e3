/** The load generator of every HTTP bench case: realistic events, unique eventIds, 50 connections. */
import autocannon from 'autocannon';
import { createEventFactory } from './realistic-events.js';

export const CONNECTIONS = 50;

/**
 * Posts events to the audit API on `port`, for `seconds` or for exactly `amount` requests,
 * as fast as the server answers or at `perSecond` in all.
 */
export function postEvents(
  port: number,
  until: { seconds: number } | { amount: number },
  nextEvent: ReturnType<typeof createEventFactory> = createEventFactory(),
  perSecond?: number,
) {
  let index = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}/api/v1/audit-event`,
    connections: CONNECTIONS,
    ...(perSecond === undefined ? {} : { overallRate: perSecond }),
    ...('seconds' in until ? { duration: until.seconds } : { amount: until.amount }),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(nextEvent(index++)) }),
      },
    ],
  });
}
