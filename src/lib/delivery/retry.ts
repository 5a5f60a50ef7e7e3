/**
 * When to try a failed write again: exponential back-off with "equal jitter" (half fixed,
 * half random), so that destinations failing together do not retry in lockstep, and never
 * sooner than the server asked (Retry-After), up to an hour.
 */
import { ConfigurationError, TransientError } from '../errors.js';

export interface RetryPolicy {
  /** Wait before the first retry; doubles with every failure in a row. */
  initialDelayMs: number;
  /** Upper bound of the back-off (a server's Retry-After may ask for longer). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { initialDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * The longest Retry-After honoured. Beyond 2^31-1 ms setTimeout fires after 1 ms, which would
 * turn a server asking for a very long wait into a tight retry loop; an hour is long enough.
 */
const MAX_SERVER_RETRY_AFTER_MS = 60 * 60 * 1000;

/** What the server asked to wait, in ms, when the failure says so. */
function serverRetryAfterMs(failure: unknown): number {
  if (failure instanceof TransientError || failure instanceof ConfigurationError)
    return failure.retryAfterMs ?? 0;
  return 0;
}

/** The wait before attempt number `failuresInARow + 1`. */
export function retryDelayMs(
  failuresInARow: number,
  policy: RetryPolicy,
  failure: unknown,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * 2 ** Math.max(0, failuresInARow - 1),
  );
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.max(jittered, Math.min(serverRetryAfterMs(failure), MAX_SERVER_RETRY_AFTER_MS)));
}

/**
 * Waits `ms`, or less when `signal` aborts first; never rejects. The timer is not unref()ed:
 * events waiting for a retry are a reason to keep the process alive (stop() aborts it).
 */
export function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
