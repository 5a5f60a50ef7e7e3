/**
 * The one HTTP agent the saver's requests go through (image downloads and the Qlik Proxy
 * Service): with `auth.tls`, it presents that client certificate and trusts that CA, as the
 * Qlik Proxy Service requires (mutual TLS); otherwise it is a plain agent. Closed with the saver.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent } from 'undici';
import { ConfigurationError, errorMessage } from '../errors.js';
import type { QlikTlsConfig } from '../config/screenshots-schema.js';

async function readCertificateFile(file: string, key: string, baseDir: string): Promise<Buffer> {
  const resolved = path.resolve(baseDir, file);
  try {
    return await readFile(resolved);
  } catch (error) {
    throw new ConfigurationError(
      `cannot read destination.screenshots.auth.tls.${key} '${resolved}': ${errorMessage(error)}`,
      `point auth.tls.${key} at the Qlik client certificate files (as exported from the QMC)`,
    );
  }
}

export async function createHttpAgent(tls: QlikTlsConfig | undefined, baseDir: string): Promise<Agent> {
  if (!tls) return new Agent();
  const [cert, key, ca] = await Promise.all([
    readCertificateFile(tls.certFile, 'certFile', baseDir),
    readCertificateFile(tls.keyFile, 'keyFile', baseDir),
    tls.caFile ? readCertificateFile(tls.caFile, 'caFile', baseDir) : undefined,
  ]);
  return new Agent({
    connect: {
      cert,
      key,
      ...(ca ? { ca } : {}),
      ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
      rejectUnauthorized: tls.rejectUnauthorized,
    },
  });
}
