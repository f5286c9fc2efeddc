import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

function positive(shape: number[], random: () => number): HostTensor {
  return randomHostTensor(shape, () => Math.abs(random()) + 0.05);
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native FusedBatchNorm'), () => {
  beforeAll(() => useNativeBackend(2));
  afterAll(() => useCpuBackend());

  const table = [
    { name: 'per channel on NHWC with scale and offset', x: [4, 5, 5, 6], param: [6], scale: true, offset: true },
    { name: 'per channel without scale', x: [4, 5, 5, 6], param: [6], scale: false, offset: true },
    { name: 'per channel without offset', x: [4, 5, 5, 6], param: [6], scale: true, offset: false },
    { name: 'with neither scale nor offset', x: [2, 3, 3, 5], param: [5], scale: false, offset: false },
    { name: 'batch 1 and one channel', x: [1, 7, 3, 1], param: [1], scale: true, offset: true },
    { name: 'a large batch split across threads', x: [64, 7, 7, 64], param: [64], scale: true, offset: true },
    { name: 'rank-2 input with full-shape moments', x: [3, 4], param: [3, 4], scale: true, offset: true },
    { name: 'parameters cycling with a length that does not divide the input', x: [2, 3, 5], param: [4], scale: true, offset: true },
  ].map((c, i) => ({ ...c, seed: i + 1 }));

  it.each(table)('matches the cpu backend $name', async (c) => {
    const random = seededUniform(c.seed);
    const inputs = {
      x: randomHostTensor(c.x, () => random() * 3 + 1),
      mean: randomHostTensor(c.param, random),
      variance: positive(c.param, random),
      scale: c.scale ? randomHostTensor(c.param, random) : null,
      offset: c.offset ? randomHostTensor(c.param, random) : null,
    };
    const actual = await runKernelOn('native', 'FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 });
    const expected = await runKernelOn('cpu', 'FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 });
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it('ran every case natively', () => {
    expect(nativeBackendStats().kernels.get('FusedBatchNorm')?.native).toBeGreaterThanOrEqual(table.length);
    expect(nativeBackendStats().kernels.get('FusedBatchNorm')?.fallback).toBe(0);
  });

  it('computes the gradient of training-mode batch normalisation followed by ReLU as the cpu backend does', async () => {
    const random = seededUniform(1234);
    const inputs = [randomHostTensor([8, 5, 5, 6], () => random() * 2 + 0.5), randomHostTensor([6], random), randomHostTensor([6], random)];
    const weights = randomHostTensor([8, 5, 5, 6], random);
    const f = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const y = tf.relu(tf.batchNorm(x, mean, variance, beta, gamma, 1e-5));
      return tf.sum(tf.mul(y, tf.tensor(weights.values, weights.shape)));
    };
    const actual = await runGradientsOn('native', f, inputs);
    const expected = await runGradientsOn('cpu', f, inputs);
    expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
  });
});
