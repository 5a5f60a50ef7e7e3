/**
 * Why a screenshot was not saved. `retryable` says whether another attempt may succeed (a
 * 503, a timeout, a dropped connection) or never will (a blocked host, a page instead of an
 * image, an image too large): the download retries by kind, never by message.
 */
export class ScreenshotFailure extends Error {
  override readonly name = 'ScreenshotFailure';
  constructor(
    /** In words an administrator can act on; never a ticket or a cookie. */
    readonly reason: string,
    readonly retryable = false,
    /** The HTTP status, when a server answered with one. */
    readonly status?: number,
  ) {
    super(reason);
  }
}

/** Statuses worth another attempt: the server may answer differently in a moment. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}
