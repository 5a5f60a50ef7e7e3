/**
 * The download of one screenshot: up to 3 attempts, 500 ms then 1 s apart, for what may pass
 * (408, 425, 429, 5xx, a network error, a timeout); anything else, a certificate not trusted
 * included, fails at once. Each attempt (the ticket, every redirect and the body) gets
 * `downloadTimeoutMs`, so one download takes at most 3 × downloadTimeoutMs + 1.5 s: that is
 * how long a stalled Qlik server can hold an event.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { requestFailure, ScreenshotFailure } from './failure.js';

export const DOWNLOAD_ATTEMPTS = 3;
/** The wait before attempt 2 and attempt 3. */
export const RETRY_DELAYS_MS = [500, 1000] as const;

export interface DownloadOptions {
  timeoutMs: number;
  /** Aborted when the saver closes: no new attempt, no wait. */
  closing: AbortSignal;
}

/** The cause of a failed attempt, as a ScreenshotFailure that says whether to try again. */
function failureOf(error: unknown, timeout: AbortSignal, options: DownloadOptions): ScreenshotFailure {
  if (options.closing.aborted) return new ScreenshotFailure('the module is stopping');
  if (error instanceof ScreenshotFailure) return error;
  return requestFailure(
    error,
    timeout,
    `no complete answer within downloadTimeoutMs (${options.timeoutMs} ms)`,
  );
}

/** Runs `attempt` until it succeeds, fails for good, or has run DOWNLOAD_ATTEMPTS times. */
export async function downloadWithRetries<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  options: DownloadOptions,
): Promise<T> {
  for (let number = 1; ; number += 1) {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    try {
      return await attempt(AbortSignal.any([timeout, options.closing]));
    } catch (error) {
      const failure = failureOf(error, timeout, options);
      if (!failure.retryable) throw failure;
      if (number >= DOWNLOAD_ATTEMPTS)
        throw new ScreenshotFailure(
          `${failure.reason} (${DOWNLOAD_ATTEMPTS} attempts)`,
          false,
          failure.status,
        );
      try {
        await sleep(RETRY_DELAYS_MS[number - 1], undefined, { signal: options.closing });
      } catch {
        throw new ScreenshotFailure('the module is stopping');
      }
    }
  }
}
