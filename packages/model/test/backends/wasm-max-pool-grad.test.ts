import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { selectBackend } from '../../src/backends/index.ts';
import { randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

interface PoolCase {
  readonly shape: [number, number, number, number];
  readonly filterSize: number;
  readonly strides: number;
  readonly pad: 'same' | 'valid' | number;
  readonly values: 'mixed' | 'after ReLU' | 'negative';
}

const cases: PoolCase[] = [];
for (const values of ['mixed', 'after ReLU', 'negative'] as const) {
  for (const [filterSize, strides] of [
    [3, 2],
    [2, 2],
    [3, 1],
  ] as const) {
    for (const pad of ['same', 'valid', 1] as const) {
      for (const shape of [
        [2, 14, 14, 5],
        [1, 7, 9, 3],
        [3, 3, 3, 1],
      ] as Array<[number, number, number, number]>) {
        if (pad === 'valid' && shape[1] < filterSize) continue;
        cases.push({ shape, filterSize, strides, pad, values });
      }
    }
  }
}

function inputValues(c: PoolCase, seed: number): HostTensor {
  const x = randomHostTensor(c.shape, seededUniform(seed));
  if (c.values === 'after ReLU') x.values.forEach((v, i) => (x.values[i] = Math.max(0, v)));
  if (c.values === 'negative') x.values.forEach((v, i) => (x.values[i] = -Math.abs(v)));
  return x;
}

describe('the wasm MaxPoolGrad', () => {
  const named = cases.map((c, i) => ({
    ...c,
    seed: 100 + i,
    name: `${c.filterSize}×${c.filterSize}/${c.strides} ${c.pad} over ${c.shape.join('×')}, ${c.values} values`,
  }));
  it.each(named)(
    'matches the cpu backend for $name',
    async (c) => {
      const input = inputValues(c, c.seed);
      const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad };
      const output = await runKernelOn('cpu', 'MaxPool', { x: input }, attrs);
      const dy = randomHostTensor(output.shape, seededUniform(c.seed + 1));
      const actual = await runKernelOn('wasm', 'MaxPoolGrad', { dy, input, output }, attrs);
      const expected = await runKernelOn('cpu', 'MaxPoolGrad', { dy, input, output }, attrs);
      expect(relativeError(actual, expected)).toBeLessThan(1e-6);
    },
  );

  it('passes on the whole gradient when no value in a window is positive, unlike the kernel tfjs ships', async () => {
    await tf.setBackend('wasm');
    const x = tf.fill([1, 4, 4, 2], -1);
    const dy = tf.ones([1, 2, 2, 2]);
    const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
    const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
    expect(tf.sum(dx).dataSync()[0]).toBe(8);
    tf.dispose([x, dy, y, dx]);
  });
});
