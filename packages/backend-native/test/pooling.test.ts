import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import type { DimRoundingMode, Pad } from './support/conv-cases.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

interface PoolCase {
  readonly name: string;
  readonly shape: [number, number, number, number];
  readonly filterSize: number | [number, number];
  readonly strides: number | [number, number];
  readonly pad: Pad;
  readonly dimRoundingMode?: DimRoundingMode;
  readonly seed: number;
}

function poolCases(): PoolCase[] {
  const shapes: Array<[number, number, number, number]> = [
    [1, 5, 7, 1],
    [3, 9, 9, 3],
    [2, 14, 14, 8],
    [2, 2, 3, 4],
    [1, 1, 1, 5],
  ];
  const windows: Array<[number | [number, number], number | [number, number]]> = [
    [3, 2], // the d2l stem's max-pool
    [2, 2],
    [3, 1],
    [[2, 3], [1, 2]],
    [1, 1],
  ];
  const pads: Array<[Pad, DimRoundingMode]> = [
    ['same', undefined],
    ['valid', undefined],
    [1, 'ceil'],
    [1, 'floor'],
  ];
  const cases: PoolCase[] = [];
  for (const shape of shapes) {
    for (const [filterSize, strides] of windows) {
      for (const [pad, dimRoundingMode] of pads) {
        const [filterHeight, filterWidth] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
        // A window larger than the padded input has no output; padding beyond the window neither.
        if (pad === 'valid' && (filterHeight > shape[1] || filterWidth > shape[2])) continue;
        if (typeof pad === 'number' && (pad >= Math.min(filterHeight, filterWidth) || filterHeight > shape[1] + 2 * pad)) continue;
        const name = `${JSON.stringify(filterSize)}/${JSON.stringify(strides)} ${String(pad)}${dimRoundingMode === undefined ? '' : ` ${dimRoundingMode}`} on ${shape.join('×')}`;
        cases.push({ name, shape, filterSize, strides, pad, dimRoundingMode, seed: cases.length + 1 });
      }
    }
  }
  return cases;
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native pooling kernels'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const cases = poolCases();

  describe.each(['MaxPool', 'AvgPool'] as const)('%s', (kernelName) => {
    it.each(cases)('matches the cpu backend forward for $name', async (c) => {
      const x = randomHostTensor(c.shape, seededUniform(c.seed));
      const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad, dimRoundingMode: c.dimRoundingMode };
      const actual = await runKernelOn('native', kernelName, { x }, attrs);
      const expected = await runKernelOn('cpu', kernelName, { x }, attrs);
      expect(relativeError(actual, expected)).toBeLessThan(1e-4);
    });

    it.each(cases.filter((c) => c.dimRoundingMode !== 'ceil'))('matches the cpu backend in the gradient for $name', async (c) => {
      const random = seededUniform(c.seed + 100);
      const x = randomHostTensor(c.shape, random);
      const pool = kernelName === 'MaxPool' ? tf.maxPool : tf.avgPool;
      const f = (input: tf.Tensor): tf.Tensor => {
        const y = pool(input as tf.Tensor4D, c.filterSize, c.strides, c.pad, c.dimRoundingMode);
        // Weights make every output's upstream gradient distinct.
        const w = tf.tensor(randomHostTensor(y.shape, seededUniform(c.seed)).values, y.shape);
        return tf.sum(tf.mul(y, w));
      };
      const actual = await runGradientsOn('native', f, [x]);
      const expected = await runGradientsOn('cpu', f, [x]);
      expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
    });
  });

  it('ran the forward and gradient kernels natively', () => {
    for (const name of ['MaxPool', 'AvgPool', 'MaxPoolGrad', 'AvgPoolGrad']) {
      expect(nativeBackendStats().kernels.get(name)?.native, name).toBeGreaterThan(0);
    }
  });
});
