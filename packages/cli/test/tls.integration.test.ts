/**
 * TLS on every link, with real certificates made by openssl in the test: a launch over mutual
 * TLS (coordinator port and the ring's links) trains and reports accuracy; against a coordinator
 * that wants client certificates, an expired certificate, a certificate of another CA, a worker
 * that trusts another CA, no certificate at all and a plaintext client are each refused, with an
 * error that says which, counted in the coordinator's metrics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary, runRingtrain, type RunningCommand } from './launch-helpers.ts';
import { makeCertificates, type TestCertificates } from './support/certificates.ts';

const TOKEN = 'tls-test-token-0123456789abcdef';

function httpsGet(url: string, certs: TestCertificates): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(certs.ca), cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS on every link', () => {
  let dir: string;
  let certs: TestCertificates;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-tls-'));
    certs = makeCertificates(dir);
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('trains a launch over mutual TLS, the ring\'s links included', async () => {
    const summaryPath = join(dir, 'summary.json');
    const run = runRingtrain([
      'launch', '--workers', '2', '--port', '0', '--width', '0.25', '--batch-size', '64', '--limit-train', '2048', '--limit-test', '256',
      '--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca, '--tls-require-client-cert',
      '--summary-json', summaryPath, '--log-level', 'info', '--log-format', 'json',
    ]);
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/coordinator on wss:\/\/127\.0\.0\.1:\d+/);
    expect(output.match(/peer server listening on [\d.:]+ \(TLS, peers need a certificate of the run's CA\)/g)?.length, output).toBe(2);
    const summary = await readSummary(summaryPath);
    expect(summary.testAccuracy).toBeGreaterThan(0.2);
  });

  it('refuses a worker whose peer port is plaintext when the run\'s first worker serves TLS there, naming both', async () => {
    const coordinator = runRingtrain(
      ['coordinator', '--port', '0', '--min-workers', '2', '--limit-train', '256', '--limit-test', '64', '--tls-cert', certs.cert, '--tls-key', certs.key, '--log-format', 'json'],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    try {
      const url = await coordinator.url;
      const first = runRingtrain(['worker', '--coordinator', url, '--worker-id', 'tls-peer', '--metrics-port', '0', '--tls-ca', certs.ca, '--tls-cert', certs.cert, '--tls-key', certs.key], { RINGTRAIN_TOKEN: TOKEN });
      try {
        await expect.poll(() => /worker tls-peer joined/.test(coordinator.output()), { timeout: 60_000 }).toBe(true);
        const second = runRingtrain(['worker', '--coordinator', url, '--worker-id', 'plain-peer', '--metrics-port', '0', '--tls-ca', certs.ca], { RINGTRAIN_TOKEN: TOKEN });
        const { code, stderr } = await second.exited;
        expect(code).toBe(1);
        expect(stderr).toMatch(/worker plain-peer's peer port is plaintext, but the peer ports of this run's workers serve TLS \(as worker tls-peer said first\)/);
        expect(coordinator.output()).not.toMatch(/worker plain-peer joined/);
      } finally {
        first.kill('SIGTERM');
        await first.exited;
      }
    } finally {
      coordinator.kill('SIGTERM');
      await coordinator.exited;
    }
  });

  describe('a coordinator that wants client certificates', () => {
    let coordinator: RunningCommand;
    let url: string;
    beforeAll(async () => {
      coordinator = runRingtrain(
        ['coordinator', '--port', '0', '--min-workers', '2', '--limit-train', '256', '--limit-test', '64', '--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca, '--tls-require-client-cert', '--log-format', 'json'],
        { RINGTRAIN_TOKEN: TOKEN },
      );
      url = await coordinator.url;
    });
    afterAll(async () => {
      coordinator?.kill('SIGTERM');
      await coordinator?.exited;
    });

    async function worker(args: string[], target = url): Promise<{ code: number | null; stderr: string }> {
      const run = runRingtrain(['worker', '--coordinator', target, '--metrics-port', '0', '--connect-timeout-ms', '3000', ...args], { RINGTRAIN_TOKEN: TOKEN });
      const { code, stderr } = await run.exited;
      return { code, stderr };
    }

    it('refuses a worker whose certificate has expired, saying so', async () => {
      const { code, stderr } = await worker(['--tls-ca', certs.ca, '--tls-cert', certs.expiredCert, '--tls-key', certs.expiredKey]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/it refused this worker's TLS certificate: client certificate refused: certificate expired/);
    });

    it('refuses a worker whose certificate another CA signed, saying so', async () => {
      const { code, stderr } = await worker(['--tls-ca', certs.ca, '--tls-cert', certs.otherCert, '--tls-key', certs.otherKey]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/it refused this worker's TLS certificate: client certificate refused: not signed by the run's CA/);
    });

    it('refuses a worker with no certificate, saying the coordinator wants one', async () => {
      const { code, stderr } = await worker(['--tls-ca', certs.ca]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/it refused this worker's TLS certificate: no client certificate: this coordinator wants one signed by the run's CA/);
    });

    it('lets a worker that trusts another CA refuse the coordinator, saying why', async () => {
      const { code, stderr } = await worker(['--tls-ca', certs.otherCa, '--tls-cert', certs.cert, '--tls-key', certs.key]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/TLS certificate was refused: .*(self-signed certificate in certificate chain|unable to verify)/i);
    });

    it('tells a plaintext worker that the port speaks TLS', async () => {
      const { code, stderr } = await worker([], url.replace('wss://', 'ws://'));
      expect(code).toBe(1);
      expect(stderr).toMatch(/is its port TLS\? then dial wss:\/\//);
    });

    it('counts every refused handshake, and serves its metrics over TLS to a client with a certificate', async () => {
      const metrics = await httpsGet(`${url.replace('wss://', 'https://')}/metrics`, certs);
      expect(metrics.status).toBe(200);
      const refused = Number(/^ringtrain_connections_refused_total\{reason="tls_handshake"\} (\d+)/m.exec(metrics.body)?.[1] ?? 0);
      expect(refused).toBeGreaterThanOrEqual(4);
    });
  });
});
