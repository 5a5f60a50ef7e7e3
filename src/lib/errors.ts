/**
 * Errors are values with a class, so every layer decides by kind, not by message:
 * transient (retry later), permanent (the data itself was refused), unavailable (tell the
 * client to come back: 503 + Retry-After).
 */

/** A write failed for a reason that time may fix (network, timeout, 5xx, 429): retry. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(
    message: string,
    /** Minimum wait before the next attempt, when the server said so (Retry-After). */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The destination refused the data itself; retrying the same data cannot succeed. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}

/** The module cannot take a new event now (log full, shutting down): 503 + Retry-After. */
export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
