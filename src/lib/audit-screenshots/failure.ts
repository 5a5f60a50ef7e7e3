import { errorMessage } from '../errors.js';

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

const TRUST_ITS_CA =
  'trust the CA that signed it: auth.tls.caFile (the Qlik root.pem), or NODE_EXTRA_CA_CERTS for the whole process';
const NAME_MISMATCH = 'it does not name the host in the URL; give the server a certificate that does';
const NOT_VALID_NOW = 'give the server a valid certificate';

/**
 * OpenSSL's verdicts on a server's certificate, as Node names them, each with its fix: another
 * attempt gets the same verdict, so it is not retried.
 */
const UNTRUSTED_CERTIFICATE = new Map([
  ['CERT_HAS_EXPIRED', NOT_VALID_NOW],
  ['CERT_NOT_YET_VALID', NOT_VALID_NOW],
  ['CERT_REVOKED', NOT_VALID_NOW],
  ['CERT_SIGNATURE_FAILURE', NOT_VALID_NOW],
  ['ERR_TLS_CERT_ALTNAME_INVALID', NAME_MISMATCH],
  ['HOSTNAME_MISMATCH', NAME_MISMATCH],
  ['CERT_REJECTED', TRUST_ITS_CA],
  ['CERT_UNTRUSTED', TRUST_ITS_CA],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', TRUST_ITS_CA],
  ['INVALID_CA', TRUST_ITS_CA],
  ['SELF_SIGNED_CERT_IN_CHAIN', TRUST_ITS_CA],
  ['UNABLE_TO_GET_ISSUER_CERT', TRUST_ITS_CA],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', TRUST_ITS_CA],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', TRUST_ITS_CA],
]);

/**
 * A request that got no answer: a server certificate that is not trusted fails at once, with
 * what fixes it; anything else (a refused port, a dropped connection) may pass.
 */
export function noAnswerFailure(error: unknown): ScreenshotFailure {
  const message = errorMessage(error);
  // undici's request() rejects with the socket's error; fetch() puts it under `cause`.
  const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
  const detail = `${code && !message.includes(code) ? `${code}: ` : ''}${message}`;
  const fix = code === undefined ? undefined : UNTRUSTED_CERTIFICATE.get(code);
  if (fix) return new ScreenshotFailure(`the server's TLS certificate is not trusted (${detail}); ${fix}`);
  return new ScreenshotFailure(`network error: ${detail}`, true);
}

/**
 * A request that failed before its answer was read: `timeout` ran out (`timedOut` says which
 * limit; another attempt may be quicker), or it got no answer (noAnswerFailure).
 */
export function requestFailure(error: unknown, timeout: AbortSignal, timedOut: string): ScreenshotFailure {
  return timeout.aborted ? new ScreenshotFailure(timedOut, true) : noAnswerFailure(error);
}
