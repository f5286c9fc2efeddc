/**
 * Real certificates for the TLS suites, made with Debian's openssl in a directory of the test's:
 * a run's CA and a certificate for the given addresses (127.0.0.1 unless told) signed by it
 * (server and client use), one that has already expired, and a certificate of another CA.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
  expiredCert: string;
  expiredKey: string;
  otherCa: string;
  otherCert: string;
  otherKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function authority(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

function leaf(dir: string, name: string, ca: string, days: number): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1']);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-extfile', 'leaf.ext']);
}

/** One more certificate of the run's CA (made by `makeCertificates` in `dir`), as `name`.crt/.key. */
export function makeRunCertificate(dir: string, name: string): { cert: string; key: string } {
  leaf(dir, name, 'run-ca', 2);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makeCertificates(dir: string, addresses: readonly string[] = ['127.0.0.1']): TestCertificates {
  writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${addresses.map((a) => `IP:${a}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  authority(dir, 'run-ca');
  authority(dir, 'other-ca');
  leaf(dir, 'node', 'run-ca', 2);
  // Valid until the second it was made.
  leaf(dir, 'expired', 'run-ca', 0);
  leaf(dir, 'stranger', 'other-ca', 2);
  const at = (file: string): string => join(dir, file);
  return {
    ca: at('run-ca.crt'),
    cert: at('node.crt'),
    key: at('node.key'),
    expiredCert: at('expired.crt'),
    expiredKey: at('expired.key'),
    otherCa: at('other-ca.crt'),
    otherCert: at('stranger.crt'),
    otherKey: at('stranger.key'),
  };
}
