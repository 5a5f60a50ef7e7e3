/** Waiting for what real servers and processes do in their own time. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. A check
 * that throws (a server not up yet) is polled again; its last error is in the failure.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause =
        lastError === undefined ? '' : ` (last error: ${(lastError as Error).message ?? lastError})`;
      throw new Error(`timed out waiting for ${what}${cause}`);
    }
    await sleep(100);
  }
}
