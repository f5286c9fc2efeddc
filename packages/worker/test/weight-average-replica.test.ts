/**
 * A replica asked for a weight average (`hyper.emaDecay`): it evaluates the average, and the
 * average travels in the state a joining replica is sent. (The compute thread holds one replica
 * at a time, so the replicas compared here share this thread.)
 */
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelCompute, type ComputeProvider, type ReplicaTrainer } from '../src/index.ts';

const MODEL = { depth: 18, stem: 'small', widthMultiplier: 0.125, imageSize: 28, channels: 1, classes: 10, seed: 3, zeroInitResidual: false } as ModelSpec;
const HYPER = { momentum: 0.9, nesterov: false, weightDecay: 0, labelSmoothing: 0, testTimeFlip: false } as unknown as HyperParameters;
const BATCH = 16;

function batch(step: number): { x: Float32Array; labels: Int32Array } {
  const x = Float32Array.from({ length: BATCH * 28 * 28 }, (_, i) => (((i * 7919 + step * 104_729) % 255) - 127) / 128);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 3 + step) % 10);
  return { x, labels };
}

async function train(trainer: ReplicaTrainer, steps: number): Promise<void> {
  for (let step = 0; step < steps; step++) {
    const { x, labels } = batch(step);
    const { flat } = await trainer.computeGradients(x, labels);
    await trainer.applyGradients(flat, 0.2);
  }
}

describe('a replica with a weight average', () => {
  let compute: ComputeProvider;
  const test = batch(99);
  beforeAll(async () => {
    compute = await modelCompute('native', undefined, { threads: 1 });
  });

  it('evaluates the average the assignment asks for: at decay 1, the initial model', async () => {
    const averaged = await compute.createTrainer(MODEL, { ...HYPER, emaDecay: 1 });
    const live = await compute.createTrainer(MODEL, HYPER);
    const initial = await compute.createTrainer(MODEL, HYPER);
    await train(averaged, 3);
    await train(live, 3);
    const initialEvaluation = await initial.evaluate(test.x, test.labels);
    expect(await averaged.evaluate(test.x, test.labels)).toEqual(initialEvaluation);
    expect(await live.evaluate(test.x, test.labels)).not.toEqual(initialEvaluation);
    // Training itself ran on the live weights.
    expect(await averaged.weightChecksum()).toBe(await live.weightChecksum());
    for (const trainer of [averaged, live, initial]) await trainer.dispose();
  });

  it('hands its average to a joining replica with its state', async () => {
    const hyper = { ...HYPER, emaDecay: 0.5, emaWarmup: true };
    const source = await compute.createTrainer(MODEL, hyper);
    await train(source, 3);
    const joiner = await compute.createTrainer({ ...MODEL, seed: 4 }, hyper);
    await joiner.setState(await source.getState());
    expect(await joiner.evaluate(test.x, test.labels)).toEqual(await source.evaluate(test.x, test.labels));
    // A replica given only the live weights (a state without the average) evaluates otherwise.
    const withoutAverage = await compute.createTrainer({ ...MODEL, seed: 5 }, HYPER);
    await withoutAverage.setState(await source.getState());
    expect(await withoutAverage.evaluate(test.x, test.labels)).not.toEqual(await source.evaluate(test.x, test.labels));
    for (const trainer of [source, joiner, withoutAverage]) await trainer.dispose();
  });
});
