/** Test certificates made with the openssl CLI (Debian's), for TLS tests on 127.0.0.1. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

export function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/**
 * A self-signed certificate for 127.0.0.1, valid for a day: `<name>.crt` and `<name>.key` in
 * `dir` (the key encrypted when a passphrase is given). Returns both paths.
 */
export function createLocalhostCertificate(
  dir: string,
  name: string,
  options: { passphrase?: string } = {},
): { certFile: string; keyFile: string } {
  const keyProtection =
    options.passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${options.passphrase}`];
  openssl(
    dir,
    'req',
    '-x509',
    ...EC_KEY,
    ...keyProtection,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  );
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}

/** A CA and one client certificate it signed: `ca.crt`, `ca.key`, `client.crt`, `client.key`. */
export function createClientCertificateAuthority(dir: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    ...EC_KEY,
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=audit-test-ca',
  );
  openssl(
    dir,
    'req',
    ...EC_KEY,
    '-nodes',
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=audit-qs-client',
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
  );
}

/**
 * A server certificate for 127.0.0.1 and localhost signed by the CA of
 * createClientCertificateAuthority (`ca.crt`, `ca.key` in `dir`): `<name>.crt`, `<name>.key`.
 * A client that trusts that CA (a Qlik client certificate export's root.pem) accepts it.
 */
export function createServerCertificate(dir: string, name: string): { certFile: string; keyFile: string } {
  openssl(
    dir,
    'req',
    ...EC_KEY,
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(path.join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  );
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}
