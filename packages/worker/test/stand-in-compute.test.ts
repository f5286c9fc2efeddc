import { env } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildResNet, describeResNet, flatLayoutFor, selectBackend, Trainer } from '@ringtrain/model';
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { weightChecksum } from '../src/checksum.ts';
import { InvalidWorkerOptionError, TrainingFailedError } from '../src/errors.ts';
import type { ReplicaTrainer } from '../src/ports.ts';
import { standInCompute } from '../src/stand-in-compute.ts';

const MODEL: ModelSpec = { depth: 18, stem: 'd2l', widthMultiplier: 0.25, imageSize: 28, channels: 1, classes: 10, seed: 3, zeroInitResidual: false };
// The stand-in reads only the optimizer's settings of the hyper-parameters.
const HYPER = { momentum: 0.9, nesterov: false, weightDecay: 1e-4 } as HyperParameters;
const LENGTH = flatLayoutFor(describeResNet(MODEL)).totalLength;

const batch = (labels: number[]): [Float32Array, Int32Array] => [new Float32Array(labels.length * 28 * 28), Int32Array.from(labels)];

async function replica(): Promise<ReplicaTrainer> {
  return standInCompute(0).createTrainer(MODEL, HYPER);
}

describe('the stand-in compute device', () => {
  // Only the real trainer below needs a backend; the stand-in uses none.
  beforeAll(async () => {
    env().set('PROD', true);
    await selectBackend('cpu');
  });

  it('reports itself as a stand-in, never as a model backend', () => {
    expect(standInCompute(5).backend).toBe('stand-in');
  });

  it('hands out a gradient of the real model\'s flat length, a function of the batch alone', async () => {
    const a = await replica();
    const b = await replica();
    const first = (await a.computeGradients(...batch([1, 2, 3]))).flat.slice();
    const again = (await b.computeGradients(...batch([1, 2, 3]))).flat.slice();
    const other = (await a.computeGradients(...batch([3, 2, 1]))).flat.slice();
    expect(first.length).toBe(LENGTH);
    expect(weightChecksum(again)).toBe(weightChecksum(first));
    expect(weightChecksum(other)).not.toBe(weightChecksum(first));
  });

  it('keeps replicas bit-identical when they apply the same average of different batches, and moves their weights', async () => {
    const [a, b] = [await replica(), await replica()];
    const before = await a.weightChecksum();
    for (let step = 0; step < 3; step++) {
      const ga = (await a.computeGradients(...batch([step, 1, 2]))).flat.slice();
      const gb = (await b.computeGradients(...batch([7, step, 5]))).flat.slice();
      const mean = ga.map((v, i) => (v + (gb[i] as number)) / 2);
      await a.applyGradients(mean.slice(), 0.1);
      await b.applyGradients(mean.slice(), 0.1);
      expect(await a.weightChecksum()).toBe(await b.weightChecksum());
    }
    expect(await a.weightChecksum()).not.toBe(before);
  });

  it('reads and writes the real trainer\'s state format, so a coordinator\'s initial state loads', async () => {
    const real = new Trainer(buildResNet(MODEL), { sgd: { momentum: HYPER.momentum, weightDecay: HYPER.weightDecay } });
    try {
      const stand = await replica();
      await stand.setState(real.getState());
      expect(await stand.weightChecksum()).toBe(weightChecksum(real.getValues()));
      const g = (await stand.computeGradients(...batch([4, 4]))).flat;
      await stand.applyGradients(g, 0.05);
      const copy = await replica();
      await copy.setState(await stand.getState());
      expect(await copy.weightChecksum()).toBe(await stand.weightChecksum());
    } finally {
      real.dispose();
    }
  });

  it('refuses to evaluate, saying how to run without evaluation', async () => {
    const stand = await replica();
    expect(() => stand.evaluate(...batch([1]))).toThrow(TrainingFailedError);
    expect(() => stand.evaluate(...batch([1]))).toThrow(/--limit-test 0/);
  });

  it('refuses a vector of another length', async () => {
    const stand = await replica();
    expect(() => stand.applyGradients(new Float32Array(LENGTH - 1), 0.1)).toThrow(/the flat layout has/);
  });

  it.each([-1, Number.NaN, 600_001])('refuses a step time of %s ms', (ms) => {
    expect(() => standInCompute(ms)).toThrow(InvalidWorkerOptionError);
  });
});
