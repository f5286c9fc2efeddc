/**
 * Deep ResNets learn with the default recipe: a one-epoch `ringtrain launch` of ResNet-50 and
 * ResNet-152 (narrow, on 4,096 real Fashion-MNIST images, two worker processes) ends
 * with a mean training loss below the loss of its first step and a test accuracy above 0.5.
 * (Before the recipe zero-initialised the residual γ and scaled its rate to the batch, ResNet-152
 * ended such a run at chance.) The runs also time the target accuracy and stop there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStepLog, readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

describe.each(['resnet50', 'resnet152'])('one epoch of %s with the default recipe', (model) => {
  let dir: string;
  let summary: RunSummary;
  let stdout: string;
  let steps: StepLine[][];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ringtrain-deep-${model}-`));
    const summaryPath = join(dir, 'summary.json');
    const run = runRingtrain([
      'launch',
      '--workers', '2',
      '--port', '0',
      '--model', model,
      '--width', '0.25',
      '--batch-size', '64',
      '--limit-train', '4096',
      '--limit-test', '1000',
      // Three epochs asked for; the run ends after the first that reaches 0.5.
      '--epochs', '3',
      '--target-accuracy', '0.5',
      '--stop-at-target',
      '--summary-json', summaryPath,
      '--step-log-dir', dir,
    ]);
    const exit = await run.exited;
    stdout = exit.stdout;
    if (exit.code !== 0) throw new Error(`ringtrain launch ${model} exited ${String(exit.code)}:\n${exit.stdout}\n${exit.stderr}`);
    summary = await readSummary(summaryPath);
    steps = await Promise.all([0, 1].map((i) => readStepLog(join(dir, `worker-${i}.jsonl`))));
  }, 600_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ends its first epoch with a mean training loss below the loss it started from', () => {
    // Each worker's loss on its half of the first global batch, as its step log has it.
    const firstLosses = steps.map((log) => log.find((line) => line.step === 0)?.loss);
    expect(firstLosses.every((loss) => loss !== undefined && loss > 0)).toBe(true);
    const first = (firstLosses as number[]).reduce((a, b) => a + b, 0) / firstLosses.length;
    const epoch = summary.history[0];
    expect(epoch).toBeDefined();
    expect(epoch!.trainLoss).toBeLessThan(first);
  });

  it('clears a test accuracy of 0.5 after one epoch, and stops there as asked', () => {
    expect(summary.history[0]!.testAccuracy).toBeGreaterThan(0.5);
    expect(summary.epochs).toBe(1);
    expect(summary.stoppedEarly).toMatch(/every target accuracy \(0\.5\) was reached after epoch 1 of 3/);
  });

  it('reports when the target accuracy was reached', () => {
    expect(summary.timeToAccuracy).toHaveLength(1);
    const reached = summary.timeToAccuracy[0]!;
    expect(reached).toMatchObject({ target: 0.5, epoch: 1, step: summary.steps });
    expect(reached.testAccuracy).toBe(summary.history[0]!.testAccuracy);
    expect(reached.wallSeconds).toBeGreaterThan(reached.trainingSeconds);
    expect(reached.wallSeconds).toBeLessThanOrEqual(summary.wallSeconds);
    expect(stdout).toMatch(/time to 0\.5 +\d+\.\d s \(epoch 1, step \d+, test accuracy \d+\.\d+%\)/);
  });

  it('names its recipe in the summary', () => {
    expect(summary.recipe).toMatch(/^default recipe: SGD Nesterov momentum 0\.9 lr 0\.05 onecycle/);
    expect(summary.recipe).toContain('zero-init residual γ');
  });
});
