import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  InvalidNativeOptionsError,
  NativeBackend,
  nativeBackendStats,
  registerNativeBackend,
} from '../src/index.ts';
import { randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

describe.skipIf(!nativeAvailable)(nativeSuite('the native backend'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  it('is the cpu backend underneath', () => {
    expect(tf.backend()).toBeInstanceOf(NativeBackend);
    expect(tf.backend()).toBeInstanceOf(MathBackendCPU);
  });

  it('has every kernel of the cpu backend, plus its own training-mode batch norm', () => {
    const cpu = tf.getKernelsForBackend('cpu').map((k) => k.kernelName);
    const native = tf.getKernelsForBackend('native').map((k) => k.kernelName).sort();
    expect(cpu.length).toBeGreaterThan(150);
    expect(native).toEqual([...cpu, BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD].sort());
  });

  it('hands channels-first convolutions to the cpu kernel and still matches it', async () => {
    const random = seededUniform(4);
    const inputs = { x: randomHostTensor([2, 3, 7, 7], random), filter: randomHostTensor([3, 3, 3, 4], random) };
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', dilations: 1 };
    const before = nativeBackendStats().kernels.get('Conv2D')?.fallback ?? 0;
    const actual = await runKernelOn('native', 'Conv2D', inputs, attrs);
    const expected = await runKernelOn('cpu', 'Conv2D', inputs, attrs);
    expect(relativeError(actual, expected)).toBe(0);
    expect(nativeBackendStats().kernels.get('Conv2D')?.fallback).toBe(before + 1);
  });

  it.each([
    { options: { threads: 0 }, message: /threads must be an integer in \[1, 1024\], got 0/ },
    { options: { threads: 1.5 }, message: /threads must be an integer in \[1, 1024\], got 1.5/ },
    { options: { threads: 1, maxPooledBytes: -1 }, message: /maxPooledBytes must be a non-negative integer, got -1/ },
  ])('rejects the options $options, naming the bad one', ({ options, message }) => {
    expect(() => registerNativeBackend(options)).toThrow(InvalidNativeOptionsError);
    expect(() => registerNativeBackend(options)).toThrow(message);
  });

  it('runs ops it has no native kernel for through the cpu kernels', async () => {
    await useNativeBackend(1);
    const result = tf.tidy(() => tf.concat([tf.tensor1d([1, 2]), tf.cumsum(tf.tensor1d([1, 2, 3]))]).arraySync());
    expect(result).toEqual([1, 2, 1, 3, 6]);
  });
});

describe.skipIf(!nativeAvailable)(nativeSuite('the output pool of the native backend'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const SIZE = 4096;
  const churn = (): void => {
    // Allocate and free outputs of the same size many times over.
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        tf.relu(tf.fill([SIZE], -i));
      });
    }
  };

  it('reuses the arrays of disposed outputs', () => {
    const backend = tf.backend() as NativeBackend;
    tf.tidy(() => {
      tf.relu(tf.fill([SIZE], 1));
    });
    const pooled = backend.pooledByteCount;
    expect(pooled).toBeGreaterThanOrEqual(SIZE * 4);
    const kept = tf.relu(tf.fill([SIZE], 2));
    expect(backend.pooledByteCount).toBe(pooled - SIZE * 4);
    kept.dispose();
  });

  it('never recycles an array that dataSync handed out', () => {
    const y = tf.tidy(() => tf.relu(tf.fill([SIZE], 7)));
    const values = y.dataSync();
    y.dispose();
    churn();
    expect(values.every((v) => v === 7)).toBe(true);
  });

  it('never recycles a buffer that a live slice still views', () => {
    const slice = tf.tidy(() => tf.slice(tf.relu(tf.fill([SIZE], 5)), [0], [SIZE / 2]));
    churn();
    expect((slice.dataSync() as Float32Array).every((v) => v === 5)).toBe(true);
    slice.dispose();
  });

  it('never recycles the array of a tensor that another tensor reshapes', () => {
    const reshaped = tf.tidy(() => tf.reshape(tf.relu(tf.fill([SIZE], 3)), [64, SIZE / 64]));
    churn();
    expect((reshaped.dataSync() as Float32Array).every((v) => v === 3)).toBe(true);
    reshaped.dispose();
  });
});
