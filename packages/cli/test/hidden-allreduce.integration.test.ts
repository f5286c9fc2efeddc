/**
 * End to end, with real processes and real sockets: the two ways of hiding the all-reduce.
 *
 * - `--overlap` all-reduces each gradient bucket while the workers' backward passes still
 *   compute, and must train exactly as the same run without it: replicas bit-identical at every
 *   step, and every step's loss, the test loss and the test accuracy equal to the plain run's.
 * - `--delayed-allreduce` averages each step's gradient while the next step computes. Replicas
 *   stay bit-identical at every step; the first step of the epoch is the plain run's and the later
 *   ones are a step stale, so they differ from it. A worker killed in its all-reduce, with a
 *   replacement joining, loses no sample and trains none twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStepLog, readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import { sampleCounts } from './support/committed-steps.ts';
import { expectEveryStepOnceAndAgreed, KILLED_RUN_IMAGES, runKilledAndReplaced, type KilledAndReplacedRun } from './support/killed-and-replaced.ts';
import type { WorkerProcess } from './support/worker-processes.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 640;
const TEST = 200;
const BATCH = 32;

/** A tiny-width ResNet-18 with 2 workers, checksums compared every step, buckets small enough that a gradient spans many. */
async function launch(name: string, extra: string[]): Promise<{ dir: string; summary: RunSummary; steps: StepLine[] }> {
  const dir = await mkdtemp(join(tmpdir(), `ringtrain-${name}-`));
  const summaryPath = join(dir, 'summary.json');
  const run = runRingtrain([
    'launch',
    '--workers', '2',
    '--port', '0',
    '--model', 'resnet18', '--stem', 'd2l', '--width', '0.25', '--image-size', '28',
    '--epochs', '1',
    '--batch-size', String(BATCH),
    '--limit-train', String(TRAIN),
    '--limit-test', String(TEST),
    '--checksum-every', '1',
    '--max-bucket-bytes', String(64 * 1024),
    // A constant rate: step 0 changes the weights, so a step taken on the initial ones is told apart.
    '--lr-schedule', 'constant', '--lr', '0.05', '--warmup-epochs', '0',
    ...extra,
    '--step-log-dir', dir,
    '--summary-json', summaryPath,
  ]);
  const result = await run.exited;
  expect(result.code, `ringtrain launch failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  const steps = [...(await readStepLog(join(dir, 'worker-0.jsonl'))), ...(await readStepLog(join(dir, 'worker-1.jsonl')))];
  return { dir, summary: await readSummary(summaryPath), steps };
}

/** Each step's local loss by its batch: which worker process got which rank may differ from run to run. */
function lossesByBatch(steps: StepLine[], which: (step: number) => boolean = () => true): Map<string, number> {
  return new Map(steps.filter((s) => which(s.step)).map((s) => [`step ${s.step}, images ${s.indices.join(',')}`, s.loss]));
}

describe('launches of 2 workers with --overlap and with --delayed-allreduce, next to the plain run', () => {
  let plain: Awaited<ReturnType<typeof launch>>;
  let overlapped: Awaited<ReturnType<typeof launch>>;
  let delayed: Awaited<ReturnType<typeof launch>>;

  beforeAll(async () => {
    plain = await launch('plain', []);
    overlapped = await launch('overlap', ['--overlap']);
    delayed = await launch('delayed', ['--delayed-allreduce']);
  }, 600_000);

  afterAll(async () => {
    await Promise.all([plain, overlapped, delayed].filter((r) => r !== undefined).map((r) => rm(r.dir, { recursive: true, force: true })));
  });

  it.each(['overlapped', 'delayed'] as const)('keeps both replicas bit-identical %s: their weight checksums agree at every step', (mode) => {
    const { summary } = mode === 'overlapped' ? overlapped : delayed;
    expect(summary.steps).toBe(TRAIN / BATCH);
    expect(summary.checksumsAgreed).toBe(summary.steps);
  });

  it('overlapped, trains exactly as the run without overlap: the same loss at every step and the same test result', () => {
    const losses = lossesByBatch(overlapped.steps);
    expect(losses.size).toBe((2 * TRAIN) / BATCH);
    expect(losses).toEqual(lossesByBatch(plain.steps));
    expect(overlapped.summary.testLoss).toBe(plain.summary.testLoss);
    expect(overlapped.summary.testAccuracy).toBe(plain.summary.testAccuracy);
  });

  it('delayed, computes steps 0 and 1 on the initial weights, and every step after 0 a step behind the plain run', () => {
    expect(delayed.steps.length).toBe((2 * TRAIN) / BATCH);
    expect(lossesByBatch(delayed.steps, (s) => s === 0)).toEqual(lossesByBatch(plain.steps, (s) => s === 0));
    // Step 1's gradient is taken before step 0's update: its loss is the loss of the initial model.
    const delayedLater = lossesByBatch(delayed.steps, (s) => s >= 1);
    const plainLater = lossesByBatch(plain.steps, (s) => s >= 1);
    expect([...delayedLater.keys()].sort()).toEqual([...plainLater.keys()].sort());
    for (const [batch, loss] of delayedLater) expect(loss, batch).not.toBe(plainLater.get(batch));
  });
});

describe('--delayed-allreduce across generations: a worker killed in its all-reduce, a replacement joining', () => {
  const workers: WorkerProcess[] = [];
  let run: KilledAndReplacedRun;

  beforeAll(async () => {
    run = await runKilledAndReplaced('delayed', ['--delayed-allreduce'], workers);
  }, 600_000);

  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    if (run !== undefined) await rm(run.dir, { recursive: true, force: true });
  });

  it('finishes every step once, in three generations or more, with replicas that agree', () => {
    expect(run.exitCode, run.output).toBe(0);
    const summary = run.summary as RunSummary;
    expectEveryStepOnceAndAgreed(summary, run.committed);
    expect(summary.testAccuracy).toBeGreaterThan(0.4);
  });

  it('trains every sample of its epoch exactly once', () => {
    const counts = sampleCounts(run.committed, 0);
    expect(counts.size).toBe(KILLED_RUN_IMAGES);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });
});
