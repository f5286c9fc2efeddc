/**
 * A run across hosts: a coordinator and three workers each in a network namespace of its own,
 * linked by veth pairs to one bridge, talking over real addresses. One worker's link is taken
 * down for longer than the heartbeat timeout (a network partition: no connection closes, the
 * packets just stop) and brought back. The others must notice by silence, go on without it,
 * finish with exit 0 and train every sample of every epoch exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, readSummary } from './launch-helpers.ts';
import { readCommittedSteps, sampleCounts, type CommittedStep } from './support/committed-steps.ts';
import { namespacesUnavailable, TestNetwork } from './support/network-hosts.ts';
import { until } from './support/worker-processes.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 3600;
const EPOCHS = 3;
const TOKEN = 'hosts-test-token-0123456789abcdef';
const unavailable = namespacesUnavailable();


describe.skipIf(unavailable !== null)(`a run across network namespaces${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  let network: TestNetwork;
  let dir: string;
  let exitCode: number | null;
  let output = '';
  let summary: RunSummary;
  let committed: CommittedStep[];
  const processes: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-hosts-'));
    network = new TestNetwork(`rt${process.pid % 10_000}`);
    const coordinator = network.addHost('coord');
    const workers = ['w0', 'w1', 'w2'].map((name) => network.addHost(name));
    const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
    const stepLog = join(dir, 'committed.jsonl');

    const server = network.ringtrain('coord', [
      'coordinator',
      '--host', coordinator.address, '--port', '7070',
      '--min-workers', '2', '--max-workers', '3', '--rendezvous-settle-ms', '60000',
      '--heartbeat-interval-ms', '250', '--heartbeat-timeout-ms', '2000',
      '--model', 'resnet18', '--width', '0.25', '--epochs', String(EPOCHS), '--batch-size', '60',
      '--limit-train', String(TRAIN), '--limit-test', '600', '--checksum-every', '1',
      '--step-log', stepLog, '--summary-json', join(dir, 'summary.json'), '--log-format', 'json',
    ], env);
    processes.push(server.child);
    await until('the coordinator listens', () => server.output().includes('coordinator listening on'));

    for (const w of workers) {
      const worker = network.spawn(w.name, process.execPath, [
        BIN, 'worker', '--coordinator', `ws://${coordinator.address}:7070`, '--worker-id', w.name,
        '--peer-host', w.address, '--metrics-port', '0', '--workers-per-machine', '3', '--log-level', 'warn',
      ], { env, stdio: 'ignore' });
      processes.push(worker);
    }
    const steps = (): Promise<CommittedStep[]> => readCommittedSteps(stepLog);
    await until('training is under way', async () => (await steps()).length >= 20);

    // The partition: w2's packets stop; no connection is closed by anyone.
    network.partition('w2', true);
    await until('the coordinator cuts w2 for silence', () => /worker w2 .*no heartbeat answer/.test(server.output()));
    network.partition('w2', false);

    exitCode = await server.exited;
    output = server.output();
    summary = await readSummary(join(dir, 'summary.json'));
    committed = await steps();
  }, 600_000);

  afterAll(async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL');
    network?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('finishes with exit 0 after the partition, with a test accuracy', () => {
    expect(exitCode, output).toBe(0);
    expect(summary.epochs).toBe(EPOCHS);
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
  });

  it('noticed the partitioned worker by its silence and went on in a new generation', () => {
    expect(output).toMatch(/worker w2 \(rank \d, [^)]*\) left .*no heartbeat answer/);
    expect(summary.generations).toBeGreaterThanOrEqual(2);
    expect(new Set(committed.map((s) => s.generation)).size).toBeGreaterThanOrEqual(2);
  });

  it('trains every sample of every epoch exactly once', () => {
    expect(committed.map((s) => s.step)).toEqual(committed.map((_, i) => i));
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const counts = sampleCounts(committed, epoch);
      expect(counts.size, `epoch ${epoch}`).toBe(TRAIN);
      expect([...counts.values()].every((c) => c === 1), `epoch ${epoch}`).toBe(true);
    }
  });
});
