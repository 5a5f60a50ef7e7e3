/**
 * Errors are values with a class, so every layer decides by kind, not by message:
 * - TransientError: time may fix it (network, timeout, 5xx, 429, a full disk): retry later;
 * - ConfigurationError: a setting must change (a wrong token, a missing database): keep the
 *   events, tell the user the fix, retry;
 * - RefusedBatchError: the destination refused the content of a batch and will refuse it
 *   again: the delivery loop narrows it down to the refused events and dead-letters them;
 * - ServiceUnavailableError: the module cannot take a new event now (log full, shutting
 *   down): 503 + Retry-After.
 */

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

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  constructor(
    message: string,
    /** What the user should change; logged with the error. */
    readonly fix: string,
    /** Minimum wait before the next attempt, when the server said so. */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class RefusedBatchError extends Error {
  override readonly name = 'RefusedBatchError';
  constructor(
    /** The destination's own words, kept in the dead-letter record. */
    readonly reason: string,
    readonly details: {
      /** HTTP status, when a server answered. */
      status?: number;
      /** What was sent, when the batch is one item (a line of line protocol). */
      payload?: string;
    } = {},
    options?: ErrorOptions,
  ) {
    super(reason, options);
  }
}

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

/** The errno code of a file-system error (ENOENT, EEXIST …), undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}
