import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { reductionBlock } from '../src/kernels/reduction.ts';
import { nativeBackendStats } from '../src/index.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

describe('reductionBlock', () => {
  it.each([
    { shape: [2, 3, 4, 5], axes: [0, 1, 2], block: [1, 24, 5] },
    { shape: [2, 3, 4, 5], axes: [1, 2], block: [2, 12, 5] },
    { shape: [2, 3, 4, 5], axes: [3], block: [24, 5, 1] },
    { shape: [2, 3, 4, 5], axes: [0, 1, 2, 3], block: [1, 120, 1] },
    { shape: [2, 1, 4, 5], axes: [0, 2], block: [1, 8, 5] },
    { shape: [2, 3, 1, 5], axes: [2], block: [30, 1, 1] },
    { shape: [2, 3, 4, 5], axes: [0, 2], block: null },
    { shape: [], axes: [], block: [1, 1, 1] },
  ])('sees axes $axes of $shape as [outer, reduced, inner] = $block', ({ shape, axes, block }) => {
    expect(reductionBlock(shape, axes)).toEqual(block);
  });
});

describe.skipIf(!nativeAvailable)(nativeSuite('the native Sum and Mean'), () => {
  beforeAll(() => useNativeBackend(2));
  afterAll(() => useCpuBackend());

  const table = [
    { shape: [32, 7, 7, 64], axis: [0, 1, 2] }, // batch-norm moments and gradients
    { shape: [64, 2, 2, 512], axis: [1, 2] }, // global average pooling
    { shape: [3, 5, 5, 7], axis: [0, 1, 2] },
    { shape: [3, 5, 5, 7], axis: [1, 2] },
    { shape: [3, 5, 5, 7], axis: [3] },
    { shape: [3, 5, 5, 7], axis: [0, 1, 2, 3] },
    { shape: [3, 5, 5, 7], axis: [0, 2] }, // not contiguous: the cpu kernel
    { shape: [128, 10], axis: [1] },
    { shape: [128, 10], axis: [0] },
    { shape: [1, 1, 1, 9], axis: [0, 1, 2] },
    { shape: [300001], axis: [0] },
    { shape: [5], axis: [] },
  ].flatMap((c, i) => [false, true].map((keepDims) => ({ ...c, keepDims, seed: 10 * i + Number(keepDims) + 1 })));

  describe.each(['Sum', 'Mean'] as const)('%s', (op) => {
    it.each(table)('matches the cpu backend over axes $axis of $shape (keepDims $keepDims)', async ({ shape, axis, keepDims, seed }) => {
      // An offset of 3 makes cancellation visible if the sums were not accumulated carefully.
      const x = randomHostTensor(shape, () => seededUniform(seed)() + 3);
      const actual = await runKernelOn('native', op, { x }, { axis, keepDims });
      const expected = await runKernelOn('cpu', op, { x }, { axis, keepDims });
      expect(actual.shape).toEqual(expected.shape);
      expect(relativeError(actual, expected)).toBeLessThan(1e-6);
    });
  });

  it('handed only the non-contiguous axes to the cpu kernels', () => {
    for (const op of ['Sum', 'Mean']) {
      expect(nativeBackendStats().kernels.get(op)?.fallback, op).toBe(2);
    }
  });

  it('computes the gradient of moments as the cpu backend does', async () => {
    const inputs = [randomHostTensor([4, 5, 5, 6], seededUniform(3))];
    const f = (x: tf.Tensor): tf.Tensor => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.add(tf.sum(tf.mul(mean, tf.range(0, 6))), tf.sum(variance));
    };
    const actual = await runGradientsOn('native', f, inputs);
    const expected = await runGradientsOn('cpu', f, inputs);
    expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
  });
});
