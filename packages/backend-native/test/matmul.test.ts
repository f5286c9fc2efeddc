import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

interface MatMulCase {
  readonly a: number[];
  readonly b: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

// [batch…, m, k] × [batch…, k, n] before transposition; batch 1 against many, odd sizes, 1×1.
const PROBLEMS: Array<{ batchA: number[]; batchB: number[]; m: number; k: number; n: number }> = [
  { batchA: [], batchB: [], m: 1, k: 1, n: 1 },
  { batchA: [], batchB: [], m: 128, k: 512, n: 10 },
  { batchA: [], batchB: [], m: 7, k: 13, n: 5 },
  { batchA: [3], batchB: [3], m: 4, k: 6, n: 5 },
  { batchA: [1], batchB: [4], m: 3, k: 2, n: 7 },
  { batchA: [2, 3], batchB: [1], m: 5, k: 3, n: 2 },
  { batchA: [2, 3], batchB: [2, 3], m: 1, k: 9, n: 1 },
];

function cases(): Array<MatMulCase & { name: string; seed: number }> {
  const out: Array<MatMulCase & { name: string; seed: number }> = [];
  for (const p of PROBLEMS) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const a = [...p.batchA, ...(transposeA ? [p.k, p.m] : [p.m, p.k])];
        const b = [...p.batchB, ...(transposeB ? [p.n, p.k] : [p.k, p.n])];
        out.push({ a, b, transposeA, transposeB, name: `[${a}]${transposeA ? 'ᵀ' : ''} × [${b}]${transposeB ? 'ᵀ' : ''}`, seed: out.length + 1 });
      }
    }
  }
  return out;
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native matrix multiplications'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  it.each(cases())('BatchMatMul matches the cpu backend for $name', async (c) => {
    const random = seededUniform(c.seed);
    const inputs = { a: randomHostTensor(c.a, random), b: randomHostTensor(c.b, random) };
    const attrs = { transposeA: c.transposeA, transposeB: c.transposeB };
    const actual = await runKernelOn('native', 'BatchMatMul', inputs, attrs);
    const expected = await runKernelOn('cpu', 'BatchMatMul', inputs, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-4);
  });

  const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'];
  it.each(cases().map((c, i) => ({ ...c, activation: activations[i % activations.length] as string })))(
    '_FusedMatMul with bias and $activation matches the cpu backend for $name',
    async (c) => {
      const random = seededUniform(c.seed + 50);
      const n = (c.transposeB ? c.b.at(-2) : c.b.at(-1)) as number;
      const inputs = { a: randomHostTensor(c.a, random), b: randomHostTensor(c.b, random), bias: randomHostTensor([n], random) };
      const attrs = { transposeA: c.transposeA, transposeB: c.transposeB, activation: c.activation, leakyreluAlpha: 0.3 };
      const actual = await runKernelOn('native', '_FusedMatMul', inputs, attrs);
      const expected = await runKernelOn('cpu', '_FusedMatMul', inputs, attrs);
      expect(relativeError(actual, expected)).toBeLessThan(1e-4);
    },
  );

  it('computes the gradient of a dense layer with softmax cross-entropy as the cpu backend does', async () => {
    const random = seededUniform(99);
    const inputs = [randomHostTensor([16, 32], random), randomHostTensor([32, 10], random), randomHostTensor([10], random)];
    const labels = tf.tidy(() => Array.from({ length: 16 }, (_, i) => (i * 7) % 10));
    const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
      const logits = tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b, activation: 'relu' });
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), logits);
    };
    const actual = await runGradientsOn('native', f, inputs);
    const expected = await runGradientsOn('cpu', f, inputs);
    expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
  });

  it('ran every multiplication natively', () => {
    expect(nativeBackendStats().kernels.get('BatchMatMul')?.fallback).toBe(0);
    expect(nativeBackendStats().kernels.get('_FusedMatMul')?.fallback).toBe(0);
  });
});
