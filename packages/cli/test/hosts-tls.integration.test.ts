/**
 * Mutual TLS across hosts: a coordinator and two workers, each in a network namespace of its
 * own on real addresses, every link (the coordinator port and the ring's) over TLS with
 * certificates of the run's CA made by openssl for those addresses. The run trains, reports a
 * test accuracy, and every sample of its epoch is trained exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/index.ts';
import { readSummary } from './launch-helpers.ts';
import { makeCertificates } from './support/certificates.ts';
import { readCommittedSteps, sampleCounts, type CommittedStep } from './support/committed-steps.ts';
import { namespacesUnavailable, TestNetwork } from './support/network-hosts.ts';
import { until } from './support/worker-processes.ts';

const TRAIN = 1800;
const TOKEN = 'hosts-tls-token-0123456789abcdef';
const unavailable = namespacesUnavailable();

describe.skipIf(unavailable !== null)(`a run across network namespaces over mutual TLS${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  let network: TestNetwork;
  let dir: string;
  let exitCode: number | null;
  let output = '';
  let workerOutput = '';
  let summary: RunSummary;
  let committed: CommittedStep[];
  const processes: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-hosts-tls-'));
    network = new TestNetwork(`rs${process.pid % 10_000}`);
    const coordinator = network.addHost('coord');
    const workers = ['w0', 'w1'].map((name) => network.addHost(name));
    const certs = makeCertificates(dir, [coordinator.address, ...workers.map((w) => w.address)]);
    const tls = ['--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca];
    const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
    const stepLog = join(dir, 'committed.jsonl');
    const server = network.ringtrain('coord', [
      'coordinator', '--host', coordinator.address, '--port', '7070', '--min-workers', '2',
      '--model', 'resnet18', '--width', '0.25', '--batch-size', '60', '--limit-train', String(TRAIN), '--limit-test', '300',
      '--step-log', stepLog, '--summary-json', join(dir, 'summary.json'), '--log-format', 'json', ...tls, '--tls-require-client-cert',
    ], env);
    processes.push(server.child);
    await until('the coordinator listens', () => server.output().includes('coordinator listening on wss://'));
    const started = workers.map((w) =>
      network.ringtrain(w.name, [
        'worker', '--coordinator', `wss://${coordinator.address}:7070`, '--worker-id', w.name,
        '--peer-host', w.address, '--metrics-port', '0', '--workers-per-machine', '2', '--log-format', 'json', ...tls,
      ], env),
    );
    processes.push(...started.map((w) => w.child));
    exitCode = await server.exited;
    output = server.output();
    workerOutput = started.map((w) => w.output()).join('\n');
    summary = await readSummary(join(dir, 'summary.json'));
    committed = await readCommittedSteps(stepLog);
  }, 300_000);

  afterAll(async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL');
    network?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('trains over TLS on every link and reports a test accuracy', () => {
    expect(exitCode, `${output}\n${workerOutput}`).toBe(0);
    expect(summary.testAccuracy).toBeGreaterThan(0.3);
    expect(workerOutput.match(/peer server listening on [\d.:]+ \(TLS, peers need a certificate of the run's CA\)/g)?.length).toBe(2);
  });

  it('trains every sample of its epoch exactly once', () => {
    const counts = sampleCounts(committed, 0);
    expect(counts.size).toBe(TRAIN);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });
});
