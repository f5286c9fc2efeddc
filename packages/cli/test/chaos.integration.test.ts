/**
 * Faults injected into a real run: a coordinator process and worker processes on real
 * Fashion-MNIST, on a schedule. One worker kills itself in the middle of an all-reduce, another
 * is frozen with SIGSTOP for longer than the heartbeat timeout (and comes back), a replacement
 * joins the running job, and the coordinator is killed and restarted with --resume while the
 * workers keep their replicas. The run must finish with exit 0, every sample of every epoch
 * trained exactly once (the coordinators' committed-step log says so, and for the steps the
 * workers finished while no coordinator was there, the workers' own step logs), replicas
 * identical whenever they were compared, and a test accuracy to show for it. Nothing here
 * asserts on a duration; the clock only bounds how long the schedule may take to get there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary, runRingtrain } from './launch-helpers.ts';
import { readJsonLines, startWorker as startWorkerWithToken, until, type WorkerProcess } from './support/worker-processes.ts';
import { readCommittedSteps, type CommittedStep } from './support/committed-steps.ts';
import type { RunStatus } from '@ringtrain/coordinator';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 4800;
const TEST = 600;
const EPOCHS = 3;
const TOKEN = 'chaos-test-token-0123456789abcdef';

/** One line of a worker's --step-log. */
interface TrainedStep {
  step: number;
  epoch: number;
  generation: number;
  via: 'self' | 'peers';
  indices: number[];
}

const startWorker = (url: string, dir: string, id: string, extra: string[] = []): WorkerProcess => startWorkerWithToken(url, dir, id, TOKEN, extra);

describe('a run that loses, freezes and gains workers', () => {
  let dir: string;
  let summary: RunSummary;
  let committed: CommittedStep[];
  /** Every step each worker trained, by worker id. */
  let trained: Map<string, TrainedStep[]>;
  let exitCode: number | null;
  let firstCoordinatorOutput: string;
  /** /status and /metrics of the first coordinator, read before it was killed. */
  let status: RunStatus;
  let metrics: string;
  let coordinatorOutput: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-chaos-'));
    const stepLog = join(dir, 'committed.jsonl');
    const coordinatorArgs = (port: number): string[] => [
        'coordinator',
        '--port', String(port),
        '--min-workers', '2',
        '--max-workers', '3',
        // Start once all three are in; later joins enter at once.
        '--rendezvous-settle-ms', '60000',
        '--heartbeat-interval-ms', '250',
        '--heartbeat-timeout-ms', '1500',
        '--model', 'resnet18', '--stem', 'd2l', '--width', '0.25',
        '--epochs', String(EPOCHS),
        '--batch-size', '60',
        '--lr', '0.1', '--momentum', '0.9',
        '--limit-train', String(TRAIN),
        '--limit-test', String(TEST),
        '--checksum-every', '1',
        '--step-log', stepLog,
        '--summary-json', join(dir, 'summary.json'),
        '--checkpoint-dir', join(dir, 'checkpoints'),
        '--log-format', 'json',
      ];
    const coordinator = runRingtrain(coordinatorArgs(0), { RINGTRAIN_TOKEN: TOKEN });
    const url = await coordinator.url;
    const stepsSoFar = (): Promise<CommittedStep[]> => readCommittedSteps(stepLog);

    workers.push(startWorker(url, dir, 'steady'));
    // Kills itself while its all-reduce of step 25 is under way.
    const doomed = startWorker(url, dir, 'doomed', ['--inject-fault', 'kill@25:during-allreduce']);
    workers.push(doomed);
    const frozen = startWorker(url, dir, 'frozen');
    workers.push(frozen);

    await doomed.exited;
    await until('the run goes on without the killed worker', async () => (await stepsSoFar()).some((s) => s.generation >= 2 && s.step >= 30));

    // Frozen for longer than the heartbeat timeout: cut, and the run waits below --min-workers.
    // Thawed, it finds its connection gone, reconnects and joins again.
    frozen.child.kill('SIGSTOP');
    await until('the coordinator cut the frozen worker', async () => /worker frozen .*no heartbeat answer/.test(coordinator.output()));
    // A replacement joins the running job, which goes on with it.
    workers.push(startWorker(url, dir, 'replacement'));
    frozen.child.kill('SIGCONT');

    // The coordinator dies in the middle of epoch 2, after the checkpoint of epoch 1; the workers
    // keep their replicas and reach the coordinator restarted with --resume on the same port.
    await until('epoch 2 is under way', async () => (await stepsSoFar()).filter((s) => s.epoch === 1).length >= 10);
    const http = url.replace('ws://', 'http://');
    status = (await (await fetch(`${http}/status`)).json()) as RunStatus;
    metrics = await (await fetch(`${http}/metrics`)).text();
    coordinator.kill('SIGKILL');
    firstCoordinatorOutput = (await coordinator.exited).stdout;
    const port = Number(new URL(url).port);
    const restarted = runRingtrain([...coordinatorArgs(port), '--resume', '--rendezvous-settle-ms', '3000'], { RINGTRAIN_TOKEN: TOKEN });

    const result = await restarted.exited;
    exitCode = result.code;
    coordinatorOutput = `${coordinator.output()}\n${result.stdout}\n${result.stderr}`;
    summary = await readSummary(join(dir, 'summary.json'));
    committed = await stepsSoFar();
    trained = new Map();
    for (const id of ['steady', 'doomed', 'frozen', 'replacement']) trained.set(id, await readJsonLines<TrainedStep>(join(dir, `${id}.jsonl`)));
  }, 600_000);

  afterAll(async () => {
    for (const w of workers) {
      if (w.child.exitCode === null) {
        w.child.kill('SIGCONT');
        w.child.kill('SIGKILL');
      }
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('finishes with exit 0 and a test accuracy', () => {
    expect(exitCode, coordinatorOutput).toBe(0);
    // The restarted coordinator saw the epochs from the one it was restarted in.
    expect(summary.history.at(-1)?.epoch).toBe(EPOCHS);
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
  });

  it('resumed from the workers\' replicas, which were newer than the checkpoint', () => {
    expect(firstCoordinatorOutput).not.toContain('test accuracy ');
    expect(coordinatorOutput).toMatch(/resuming from .*checkpoint/);
    expect(coordinatorOutput).toMatch(/starts from worker \S+ \(rank \d, [^)]*\)'s replica of step \d+/);
  });

  it('went through the generations the faults caused, and says so', () => {
    // Started, a worker killed, a replacement joined, the frozen one back, the coordinator restarted.
    expect(summary.generations).toBeGreaterThanOrEqual(4);
    expect(new Set(committed.map((s) => s.generation)).size).toBeGreaterThanOrEqual(4);
    expect(coordinatorOutput).toMatch(/worker doomed .* left/);
    expect(coordinatorOutput).toMatch(/worker frozen .* no heartbeat answer/);
    expect(coordinatorOutput).toMatch(/worker replacement \(rank \d, .*\) is ready/);
  });

  /** Global steps missing from the committed log: finished by the workers while no coordinator was there. */
  function unlogged(): number[] {
    const logged = new Set(committed.map((s) => s.step));
    return Array.from({ length: summary.steps }, (_, i) => i).filter((s) => !logged.has(s));
  }

  it('shows the membership history in /status and the changes by cause in /metrics', () => {
    const causes = status.membership.generations.map((g) => g.cause);
    expect(causes[0]).toBe('start');
    expect(causes).toContain('worker-lost');
    expect(causes).toContain('worker-joined');
    expect(status.membership.recoveries).toBeGreaterThanOrEqual(1);
    expect(status.membership.batchScaling).toBe('fixed-global');
    for (const w of status.workers.filter((x) => x.connected)) expect(w.lastHeardAtMs).toBeGreaterThan(0);
    expect(metrics).toMatch(/^ringtrain_membership_changes_total\{cause="worker_lost"\} [1-9]/m);
    expect(metrics).toMatch(/^ringtrain_recoveries_total [1-9]/m);
  });

  it('commits every global step once, in order, but the few the workers finished while the coordinator was down', () => {
    const steps = committed.map((s) => s.step);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    expect(unlogged().length).toBeLessThanOrEqual(2);
    for (const step of unlogged()) {
      const by = [...trained.values()].filter((log) => log.some((s) => s.step === step));
      expect(by.length, `step ${step}`).toBeGreaterThanOrEqual(2);
    }
  });

  it('trains every sample of every epoch exactly once across the membership changes', () => {
    const gap = new Set(unlogged());
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const counts = new Map<number, number>();
      const count = (index: number): void => {
        counts.set(index, (counts.get(index) ?? 0) + 1);
      };
      for (const step of committed.filter((s) => s.epoch === epoch)) {
        for (const rank of step.ranks) rank.indices.slice(0, rank.real).forEach(count);
      }
      for (const log of trained.values()) for (const s of log.filter((x) => x.epoch === epoch && gap.has(x.step))) s.indices.forEach(count);
      expect(counts.size, `epoch ${epoch}`).toBe(TRAIN);
      expect([...counts.values()].every((c) => c === 1), `epoch ${epoch}`).toBe(true);
    }
  });

  it('keeps the replicas identical: every comparison of weight checksums agreed', () => {
    // A divergence fails the run (--on-divergence fail); every step reported by all ranks was compared.
    expect(summary.checksumsAgreed).toBeGreaterThan(0);
    expect(summary.checksumsAgreed).toBeLessThanOrEqual(summary.steps);
    expect(coordinatorOutput).not.toContain('DIVERGED');
  });

  it('lets the killed worker exit with its own signal, and every other worker, the thawed one included, leave cleanly', async () => {
    expect(workers[1]?.child.signalCode).toBe('SIGKILL');
    for (const i of [0, 2, 3]) expect(await workers[i]?.exited, workers[i]?.output()).toBe(0);
  });
});
