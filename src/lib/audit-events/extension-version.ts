/**
 * The Audit.qs extension's version: where it is read from, and which versions this module
 * understands. A missing version is accepted (the API warns about it, rate-limited).
 */
import semver from 'semver';
import type { AuditEnvelope } from './types.js';

/** Extension versions this module understands (semver range). */
export const SUPPORTED_AUDIT_QS_VERSIONS = '>=0.1.0 <2.0.0';

/** The header the extension may send its version in; it wins over `source.version`. */
export const AUDIT_QS_VERSION_HEADER = 'x-audit-qs-version';

export interface ExtensionVersion {
  version: string;
  /** Where the version came from, for messages. */
  from: 'X-Audit-QS-Version header' | 'source.version';
}

/** The extension's version: the header wins over `source.version`; undefined when neither is sent. */
export function findExtensionVersion(
  envelope: AuditEnvelope,
  headerVersion?: string,
): ExtensionVersion | undefined {
  if (headerVersion !== undefined && headerVersion.trim() !== '') {
    return { version: headerVersion.trim(), from: 'X-Audit-QS-Version header' };
  }
  const sourceVersion = envelope.source?.version;
  if (typeof sourceVersion === 'string' && sourceVersion.trim() !== '') {
    return { version: sourceVersion.trim(), from: 'source.version' };
  }
  return undefined;
}

/** Parsed once: semver.satisfies() would parse the range again on every request. */
const SUPPORTED_RANGE = new semver.Range(SUPPORTED_AUDIT_QS_VERSIONS);

/** Why an extension version is refused, or undefined when it is supported. */
export function extensionVersionProblem(
  version: string,
  from?: ExtensionVersion['from'],
): string | undefined {
  const refused = `incompatible extension version '${version}'${from === undefined ? '' : ` (from ${from})`}`;
  if (semver.valid(version) === null) {
    return `${refused}: not a semantic version; supported: ${SUPPORTED_AUDIT_QS_VERSIONS}`;
  }
  if (!SUPPORTED_RANGE.test(version)) {
    return `${refused}: supported: ${SUPPORTED_AUDIT_QS_VERSIONS}`;
  }
  return undefined;
}
