/**
 * New certificate files without a restart: SIGHUP makes a coordinator and a worker read their
 * --tls-cert, --tls-key and --tls-ca again, and the connections made from then on (to the
 * coordinator port, to a worker's peer port, the ring's links) use the new ones. A broken file
 * is refused with a line naming it, and the certificate in use stays. Real certificates
 * (openssl), real processes, a run that trains over the reloaded links.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary, runRingtrain, type RunningCommand } from './launch-helpers.ts';
import { freePort } from './ports.ts';
import { makeCertificates, makeRunCertificate, type TestCertificates } from './support/certificates.ts';

const TOKEN = 'tls-reload-token-0123456789abcdef';

/** The SHA-256 fingerprint of the certificate a TLS port at 127.0.0.1:`port` shows now. */
function presented(port: number, certs: TestCertificates): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca), cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/** The fingerprint of a PEM certificate file, as `getPeerCertificate` gives it. */
async function fingerprintOf(file: string): Promise<string> {
  const { X509Certificate } = await import('node:crypto');
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

describe('TLS files reloaded on SIGHUP', () => {
  let dir: string;
  let certs: TestCertificates;
  const running: RunningCommand[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-tls-reload-'));
    certs = makeCertificates(dir);
  });
  afterAll(async () => {
    for (const run of running) run.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('serves the new certificate on the coordinator port and a worker\'s peer port, and trains over it', async () => {
    // The files each process is started with, replaced in place later.
    const live = (name: string) => ({ cert: join(dir, `${name}-live.crt`), key: join(dir, `${name}-live.key`) });
    const coordinatorFiles = live('coordinator');
    const workerFiles = live('worker');
    for (const files of [coordinatorFiles, workerFiles]) {
      copyFileSync(certs.cert, files.cert);
      copyFileSync(certs.key, files.key);
    }
    const summaryPath = join(dir, 'summary.json');
    const coordinator = runRingtrain(
      ['coordinator', '--port', '0', '--min-workers', '2', '--width', '0.25', '--batch-size', '64', '--limit-train', '1024', '--limit-test', '128', '--checksum-every', '4',
        '--tls-cert', coordinatorFiles.cert, '--tls-key', coordinatorFiles.key, '--tls-ca', certs.ca, '--tls-require-client-cert', '--summary-json', summaryPath, '--log-format', 'json'],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    running.push(coordinator);
    const url = await coordinator.url;
    const port = Number(new URL(url).port);
    const original = await fingerprintOf(certs.cert);
    expect(await presented(port, certs)).toBe(original);

    // The coordinator: a new certificate of the same CA, then a broken file that must not replace it.
    const second = makeRunCertificate(dir, 'second');
    copyFileSync(second.cert, coordinatorFiles.cert);
    copyFileSync(second.key, coordinatorFiles.key);
    coordinator.kill('SIGHUP');
    await expect.poll(() => presented(port, certs), { timeout: 30_000 }).toBe(await fingerprintOf(second.cert));
    writeFileSync(coordinatorFiles.cert, 'not a certificate\n');
    coordinator.kill('SIGHUP');
    await expect.poll(() => /kept the TLS certificate in use: .*--tls-cert/.test(coordinator.output()), { timeout: 30_000 }).toBe(true);
    expect(await presented(port, certs)).toBe(await fingerprintOf(second.cert));

    // A worker waiting for its ring partner: its peer port shows the new certificate after SIGHUP.
    const peerPort = await freePort();
    const worker = runRingtrain(
      ['worker', '--coordinator', url, '--worker-id', 'reloading', '--metrics-port', '0', '--peer-port', String(peerPort), '--tls-ca', certs.ca, '--tls-cert', workerFiles.cert, '--tls-key', workerFiles.key, '--log-format', 'json'],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    running.push(worker);
    await expect.poll(() => /worker reloading joined/.test(coordinator.output()), { timeout: 60_000 }).toBe(true);
    expect(await presented(peerPort, certs)).toBe(original);
    const third = makeRunCertificate(dir, 'third');
    copyFileSync(third.cert, workerFiles.cert);
    copyFileSync(third.key, workerFiles.key);
    worker.kill('SIGHUP');
    await expect.poll(() => presented(peerPort, certs), { timeout: 30_000 }).toBe(await fingerprintOf(third.cert));
    writeFileSync(workerFiles.key, 'not a key\n');
    worker.kill('SIGHUP');
    await expect.poll(() => /kept the TLS files in use: .*--tls-key/.test(worker.output()), { timeout: 30_000 }).toBe(true);
    expect(await presented(peerPort, certs)).toBe(await fingerprintOf(third.cert));

    // A second worker closes the ring: the links to and from the reloaded worker train the run.
    const partner = runRingtrain(
      ['worker', '--coordinator', url, '--worker-id', 'partner', '--metrics-port', '0', '--tls-ca', certs.ca, '--tls-cert', certs.cert, '--tls-key', certs.key, '--log-format', 'json'],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    running.push(partner);
    const [c, w, p] = await Promise.all([coordinator.exited, worker.exited, partner.exited]);
    expect(c.code, coordinator.output()).toBe(0);
    expect(w.code, worker.output()).toBe(0);
    expect(p.code, partner.output()).toBe(0);
    const summary = await readSummary(summaryPath);
    expect(summary.steps).toBe(1024 / 64);
    expect(summary.checksumsAgreed).toBeGreaterThan(0);
  });
});
