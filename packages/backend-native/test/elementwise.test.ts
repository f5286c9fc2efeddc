import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

const BINARY = ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference', 'Maximum', 'Minimum'] as const;

// Pairs of shapes that broadcast: equal, scalar either side, per-channel against NHWC, middle
// and leading broadcasts, both sides broadcasting, rank mismatch, large enough to split across threads.
const SHAPE_PAIRS: Array<[number[], number[]]> = [
  [[7], [7]],
  [[2, 3, 5, 4], []],
  [[], [3, 1, 5]],
  [[2, 5, 5, 8], [8]],
  [[8], [2, 5, 5, 8]],
  [[2, 5, 5, 8], [1, 1, 1, 8]],
  [[4, 3, 6], [4, 1, 6]],
  [[4, 1, 6], [1, 5, 1]],
  [[3, 1], [1, 4]],
  [[1], [9]],
  [[2, 1, 3, 1, 2], [3, 4, 1]],
  [[8, 14, 14, 64], [64]],
  [[96, 500], [96, 500]],
];

function nonZero(random: () => number): () => number {
  return () => {
    const v = random();
    return v >= 0 ? v + 0.1 : v - 0.1; // RealDiv without division by (near) zero
  };
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native element-wise kernels'), () => {
  beforeAll(() => useNativeBackend(2));
  afterAll(() => useCpuBackend());

  const binaryTable = BINARY.flatMap((op, o) => SHAPE_PAIRS.map(([a, b], s) => ({ op, a, b, seed: o * 100 + s + 1, label: `${JSON.stringify(a)} and ${JSON.stringify(b)}` })));

  it.each(binaryTable)('$op matches the cpu backend on $label', async ({ op, a, b, seed }) => {
    const random = nonZero(seededUniform(seed));
    const inputs = { a: randomHostTensor(a, random), b: randomHostTensor(b, random) };
    const actual = await runKernelOn('native', op, inputs, {});
    const expected = await runKernelOn('cpu', op, inputs, {});
    expect(relativeError(actual, expected)).toBeLessThan(1e-6);
  });

  const UNARY: Array<{ op: string; attrs: object; range: number; positive?: boolean }> = [
    { op: 'Relu', attrs: {}, range: 3 },
    { op: 'Relu6', attrs: {}, range: 9 },
    { op: 'Step', attrs: { alpha: 0 }, range: 3 },
    { op: 'Step', attrs: { alpha: 0.25 }, range: 3 },
    { op: 'Neg', attrs: {}, range: 3 },
    { op: 'Square', attrs: {}, range: 3 },
    { op: 'Sqrt', attrs: {}, range: 3, positive: true },
    { op: 'Rsqrt', attrs: {}, range: 3, positive: true },
    { op: 'Exp', attrs: {}, range: 5 },
    { op: 'Log', attrs: {}, range: 3, positive: true },
    { op: 'Abs', attrs: {}, range: 3 },
    { op: 'Sigmoid', attrs: {}, range: 8 },
    { op: 'Elu', attrs: {}, range: 3 },
    { op: 'LeakyRelu', attrs: { alpha: 0.1 }, range: 3 },
    { op: 'Tanh', attrs: {}, range: 4 },
  ];
  const unaryTable = UNARY.flatMap((u, i) => [[1], [5, 7], [24, 7, 7, 64]].map((shape, s) => ({ ...u, shape, seed: 900 + i * 10 + s, label: JSON.stringify(shape) })));

  it.each(unaryTable)('$op $attrs matches the cpu backend on $label', async ({ op, attrs, range, positive, shape, seed }) => {
    const random = seededUniform(seed);
    const values = randomHostTensor(shape, () => (positive === true ? Math.abs(random()) + 1e-3 : random()) * range);
    const actual = await runKernelOn('native', op, { x: values }, attrs);
    const expected = await runKernelOn('cpu', op, { x: values }, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-6);
  });

  it('keeps NaN where the cpu kernels keep it', async () => {
    const x: HostTensor = { shape: [4], values: Float32Array.of(Number.NaN, -1, 0, 2) };
    for (const op of ['Relu', 'Step', 'Abs', 'Neg']) {
      const actual = await runKernelOn('native', op, { x }, { alpha: 0 });
      const expected = await runKernelOn('cpu', op, { x }, { alpha: 0 });
      expect(Array.from(actual.values), op).toEqual(Array.from(expected.values));
    }
    const y: HostTensor = { shape: [4], values: Float32Array.of(1, Number.NaN, 0, -2) };
    for (const op of ['Maximum', 'Minimum']) {
      const actual = await runKernelOn('native', op, { a: x, b: y }, {});
      const expected = await runKernelOn('cpu', op, { a: x, b: y }, {});
      expect(Array.from(actual.values), op).toEqual(Array.from(expected.values));
    }
  });

  it('leaves int32 tensors to the cpu kernels', async () => {
    await useNativeBackend(2);
    const before = nativeBackendStats().kernels.get('Add')?.fallback ?? 0;
    const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')).arraySync());
    expect(sum).toEqual([5, 7, 9]);
    expect(nativeBackendStats().kernels.get('Add')?.fallback).toBe(before + 1);
  });

  it('computes the gradient of broadcast arithmetic as the cpu backend does', async () => {
    const random = seededUniform(77);
    const inputs = [randomHostTensor([3, 4, 4, 6], random), randomHostTensor([6], random), randomHostTensor([1, 4, 1, 6], random)];
    const f = (x: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Tensor =>
      tf.sum(tf.mul(tf.relu(tf.sub(tf.mul(x, c), d)), tf.squaredDifference(x, tf.mul(x, tf.div(d, tf.add(tf.square(c), 1))))));
    const actual = await runGradientsOn('native', f, inputs);
    const expected = await runGradientsOn('cpu', f, inputs);
    expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
  });
});
