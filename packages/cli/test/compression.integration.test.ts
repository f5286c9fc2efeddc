/**
 * End to end, with real processes and real sockets: `ringtrain launch --compression powersgd`
 * trains a small ResNet-18 on real Fashion-MNIST images with two workers whose replicas the
 * coordinator compares at every step, and reports the compression and its bytes on the wire.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeResNet, flatLayoutFor } from '@ringtrain/model';
import { PowerSgdReducer } from '@ringtrain/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStepLog, readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import { expectEveryStepOnceAndAgreed, runKilledAndReplaced, type KilledAndReplacedRun } from './support/killed-and-replaced.ts';
import type { WorkerProcess } from './support/worker-processes.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 1920;
const TEST = 500;
const BATCH = 32;
const START_STEP = 4;
const RANK = 2;

/** `ringtrain launch` of a tiny-width ResNet-18 with 2 workers on `train` images, checksums compared every step. */
async function launchTwoWorkers(name: string, train: number, compression: string[]): Promise<{ dir: string; summary: RunSummary; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), `ringtrain-${name}-`));
  const summaryPath = join(dir, 'summary.json');
  const run = runRingtrain([
    'launch',
    '--workers', '2',
    '--port', '0',
    '--model', 'resnet18', '--stem', 'd2l', '--width', '0.25', '--image-size', '28',
    '--epochs', '1',
    '--batch-size', String(BATCH),
    '--lr', '0.1',
    '--momentum', '0.9',
    '--backend', 'wasm',
    '--limit-train', String(train),
    '--limit-test', String(TEST),
    '--checksum-every', '1',
    ...compression,
    '--step-log-dir', dir,
    '--summary-json', summaryPath,
  ]);
  const result = await run.exited;
  expect(result.code, `ringtrain launch failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return { dir, summary: await readSummary(summaryPath), stdout: result.stdout };
}

describe('a launch of 2 workers with --compression powersgd on real Fashion-MNIST', () => {
  let dir: string;
  let summary: RunSummary;
  let steps: StepLine[];
  let stdout: string;

  beforeAll(async () => {
    ({ dir, summary, stdout } = await launchTwoWorkers('powersgd', TRAIN, [
      '--compression', 'powersgd',
      '--powersgd-rank', String(RANK),
      '--powersgd-start-step', String(START_STEP),
    ]));
    steps = await readStepLog(join(dir, 'worker-0.jsonl'));
  }, 600_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps both replicas bit-identical: their weight checksums agree at every step', () => {
    expect(summary.workers).toBe(2);
    expect(summary.steps).toBe(TRAIN / BATCH);
    expect(summary.checksumsAgreed).toBe(summary.steps);
  });

  it('trains: the loss falls and the test accuracy is far above chance', () => {
    const early = steps.slice(0, 5).reduce((sum, s) => sum + s.loss, 0) / 5;
    const late = steps.slice(-5).reduce((sum, s) => sum + s.loss, 0) / 5;
    expect(late).toBeLessThan(early * 0.75);
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
  });

  it('reports the compression in use and the bytes it sent: the plain steps whole, the others as PowerSGD factors', () => {
    expect(summary.compression).toEqual({ method: 'powersgd', rank: RANK, startStep: START_STEP });
    expect(stdout).toContain(`PowerSGD rank ${RANK} from step ${START_STEP}`);
    const layout = flatLayoutFor(describeResNet({ depth: 18, stem: 'd2l', widthMultiplier: 0.25 }));
    const compressed = new PowerSgdReducer({ method: 'powersgd', rank: RANK, startStep: START_STEP }, layout, 0).compressedBytes;
    // Two ranks: each sends 2(N − 1)/N = 1 times what it averages.
    const plain = layout.totalLength * 4;
    const expected = (START_STEP * plain + (summary.steps - START_STEP) * compressed) / summary.steps;
    expect(summary.sentBytesPerStep).toBeCloseTo(expected, 3);
    expect(compressed).toBeLessThan(plain / 20);
  });
});

describe('a launch of 2 workers with --compression bf16 on real Fashion-MNIST', () => {
  let dir: string;
  let summary: RunSummary;

  beforeAll(async () => {
    ({ dir, summary } = await launchTwoWorkers('bf16', TRAIN / 2, ['--compression', 'bf16']));
  }, 600_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps both replicas bit-identical, sends 2 bytes per value, and reports bf16', () => {
    expect(summary.steps).toBe(TRAIN / 2 / BATCH);
    expect(summary.checksumsAgreed).toBe(summary.steps);
    expect(summary.compression.method).toBe('bf16');
    const layout = flatLayoutFor(describeResNet({ depth: 18, stem: 'd2l', widthMultiplier: 0.25 }));
    expect(summary.sentBytesPerStep).toBe(layout.totalLength * 2);
    expect(summary.testAccuracy).toBeGreaterThan(0.4);
  });
});

describe('PowerSGD across generations: a worker killed in its all-reduce, a replacement joining', () => {
  const workers: WorkerProcess[] = [];
  let run: KilledAndReplacedRun;

  beforeAll(async () => {
    run = await runKilledAndReplaced('powersgd', ['--lr', '0.1', '--momentum', '0.9', '--compression', 'powersgd', '--powersgd-start-step', '2'], workers);
  }, 600_000);

  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    if (run !== undefined) await rm(run.dir, { recursive: true, force: true });
  });

  it("finishes with replicas that agree at every step and at every generation's start (the coordinator compares both)", () => {
    expect(run.exitCode, run.output).toBe(0);
    const summary = run.summary as RunSummary;
    expectEveryStepOnceAndAgreed(summary, run.committed);
    expect(summary.compression.method).toBe('powersgd');
    expect(summary.testAccuracy).toBeGreaterThan(0.4);
  });
});
