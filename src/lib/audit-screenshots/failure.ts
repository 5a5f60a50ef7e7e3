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

/**
 * OpenSSL's verdicts on a server's certificate, as Node names them: another attempt gets the
 * same verdict, so it is not retried.
 */
const UNTRUSTED_CERTIFICATE = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * A request that got no answer: a server certificate that is not trusted fails at once, with
 * the setting that fixes it; anything else (a refused port, a dropped connection) may pass.
 */
export function noAnswerFailure(error: unknown): ScreenshotFailure {
  const message = errorMessage(error);
  // undici puts the socket's error under `cause`.
  const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
  const detail = `${code && !message.includes(code) ? `${code}: ` : ''}${message}`;
  if (code && UNTRUSTED_CERTIFICATE.has(code))
    return new ScreenshotFailure(
      `the server's TLS certificate is not trusted (${detail}); trust the CA that signed it: ` +
        'auth.tls.caFile (the Qlik root.pem), or NODE_EXTRA_CA_CERTS for the whole process',
    );
  return new ScreenshotFailure(`network error: ${detail}`, true);
}
