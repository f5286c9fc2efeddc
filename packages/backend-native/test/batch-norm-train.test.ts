import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../src/addon.ts';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, UnsupportedKernelInputError, nativeBackendStats } from '../src/index.ts';
import { randomHostTensor, relativeError, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

const EPSILON = 1e-5;

function host(tensor: tf.Tensor): HostTensor {
  return { shape: tensor.shape, values: Float32Array.from(tensor.dataSync() as Float32Array) };
}

function tensor(h: HostTensor): tf.Tensor {
  return tf.tensor(h.values, h.shape, 'float32');
}

/** The native kernels: forward outputs, then the gradient kernel's outputs for upstream `dy`. */
async function nativeLayer(x: HostTensor, scale: HostTensor, offset: HostTensor, dy: HostTensor, relu: boolean): Promise<HostTensor[]> {
  await useNativeBackend(2);
  const attrs = { epsilon: EPSILON, relu } as unknown as NamedAttrMap;
  const outs = tf.tidy(() => {
    const inputs = { x: tensor(x), scale: tensor(scale), offset: tensor(offset) };
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, inputs, attrs) as tf.Tensor[];
    const grads = tf.engine().runKernel(
      BATCH_NORM_TRAIN_GRAD,
      { dy: tensor(dy), x: inputs.x, y: y as tf.Tensor, mean: mean as tf.Tensor, variance: variance as tf.Tensor, scale: inputs.scale },
      attrs,
    ) as tf.Tensor[];
    return [y, mean, variance, ...grads] as tf.Tensor[];
  });
  try {
    return outs.map(host);
  } finally {
    tf.dispose(outs);
  }
}

/** The same layer from tfjs ops on the cpu backend, differentiated by tfjs's autodiff. */
async function referenceLayer(x: HostTensor, scale: HostTensor, offset: HostTensor, dy: HostTensor, relu: boolean): Promise<HostTensor[]> {
  await useCpuBackend();
  const outs = tf.tidy(() => {
    const layer = (xs: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor => {
      const axes = xs.shape.slice(0, -1).map((_, i) => i);
      const { mean, variance } = tf.moments(xs, axes);
      const y = tf.batchNorm(xs, mean, variance, beta, gamma, EPSILON);
      return relu ? tf.relu(y) : y;
    };
    const [xs, gamma, beta] = [tensor(x), tensor(scale), tensor(offset)] as [tf.Tensor, tf.Tensor, tf.Tensor];
    const axes = xs.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(xs, axes);
    const weights = tensor(dy);
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(layer(a, b, c), weights)))([xs, gamma, beta]);
    value.dispose();
    return [layer(xs, gamma, beta), mean, variance, ...grads];
  });
  try {
    return outs.map(host);
  } finally {
    tf.dispose(outs);
  }
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native training-mode batch norm kernels'), () => {
  beforeAll(() => useNativeBackend(2));
  afterAll(() => useCpuBackend());

  const table = [
    { name: 'NHWC with ReLU', x: [8, 5, 5, 6], relu: true },
    { name: 'NHWC without ReLU', x: [8, 5, 5, 6], relu: false },
    { name: 'batch 1, one channel', x: [1, 7, 3, 1], relu: true },
    { name: 'a 1×1 feature map (the last ResNet stage at 28×28)', x: [16, 1, 1, 32], relu: true },
    { name: 'a large map split across threads and chunks', x: [64, 14, 14, 64], relu: true },
    { name: 'fewer rows than chunks', x: [3, 1, 1, 5], relu: false },
    { name: 'a large mean against a small spread', x: [4, 6, 6, 3], relu: false, shift: 1000 },
    { name: 'rank-2 input, rows of channels', x: [40, 7], relu: true },
  ].map((c, i) => ({ ...c, seed: 100 + i }));

  it.each(table)('matches tfjs ops and their autodiff on the cpu backend: $name', async (c) => {
    const random = seededUniform(c.seed);
    const channels = c.x[c.x.length - 1] as number;
    const shift = c.shift ?? 0;
    const x = randomHostTensor(c.x, () => random() * 2 + 0.3 + shift);
    const scale = randomHostTensor([channels], () => random() + 1.5);
    const offset = randomHostTensor([channels], random);
    const dy = randomHostTensor(c.x, random);
    const [y, mean, variance, dx, dScale, dOffset] = await nativeLayer(x, scale, offset, dy, c.relu);
    const expected = await referenceLayer(x, scale, offset, dy, c.relu);
    expect(relativeError(y as HostTensor, expected[0] as HostTensor), 'y').toBeLessThan(1e-4);
    expect(relativeError(mean as HostTensor, expected[1] as HostTensor), 'mean').toBeLessThan(1e-5);
    expect(relativeError(variance as HostTensor, expected[2] as HostTensor), 'variance').toBeLessThan(1e-4);
    expect(worstRelativeError([dx, dScale, dOffset] as HostTensor[], expected.slice(3)), 'gradients').toBeLessThan(1e-4);
  });

  it('counts every call as native', () => {
    expect(nativeBackendStats().kernels.get(BATCH_NORM_TRAIN)?.native).toBeGreaterThanOrEqual(table.length);
    expect(nativeBackendStats().kernels.get(BATCH_NORM_TRAIN_GRAD)?.native).toBeGreaterThanOrEqual(table.length);
  });

  it('gives the same bits at one thread and at two', async () => {
    const random = seededUniform(7);
    // Large enough that two threads share the chunks (at least 2 · 32 Ki values).
    const x = randomHostTensor([32, 16, 16, 16], random);
    const scale = randomHostTensor([16], random);
    const offset = randomHostTensor([16], random);
    const dy = randomHostTensor([32, 16, 16, 16], random);
    await useNativeBackend(1);
    const one = await nativeLayer(x, scale, offset, dy, true);
    await useNativeBackend(2);
    const two = await nativeLayer(x, scale, offset, dy, true);
    one.forEach((h, i) => expect(Buffer.from(h.values.buffer).equals(Buffer.from((two[i] as HostTensor).values.buffer)), `output ${i}`).toBe(true));
  });

  it('lets a NaN through the fused ReLU and into the statistics and gradients of its channel, as tfjs does', async () => {
    const x = { shape: [2, 1, 2, 2], values: Float32Array.from([1, 2, Number.NaN, 3, 4, 5, 6, 7]) };
    const scale = { shape: [2], values: Float32Array.from([1, 1]) };
    const offset = { shape: [2], values: Float32Array.from([0, 0]) };
    const dy = { shape: [2, 1, 2, 2], values: Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]) };
    const [y, mean, variance, dx, dScale] = (await nativeLayer(x, scale, offset, dy, true)) as HostTensor[];
    const expected = (await referenceLayer(x, scale, offset, dy, true)) as HostTensor[];
    // Channel 0 holds the NaN, channel 1 does not.
    expect([mean!.values[0], variance!.values[0], dScale!.values[0]].every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(mean!.values[1])).toBe(false);
    for (const [name, actual, reference] of [['y', y, expected[0]], ['dx', dx, expected[3]]] as const) {
      const nanAt = (t: HostTensor | undefined) => [...(t as HostTensor).values].map(Number.isNaN);
      expect(nanAt(actual), `${name}: where the NaNs are`).toEqual(nanAt(reference));
    }
  });

  it('refuses gradient inputs whose shapes do not fit x', async () => {
    await useNativeBackend(2);
    const attrs = { epsilon: EPSILON, relu: false } as unknown as NamedAttrMap;
    const run = (meanChannels: number, dyShape: number[]) => () =>
      tf.tidy(() =>
        tf.engine().runKernel(
          BATCH_NORM_TRAIN_GRAD,
          { dy: tf.ones(dyShape), x: tf.ones([2, 3, 3, 4]), y: tf.ones([2, 3, 3, 4]), mean: tf.zeros([meanChannels]), variance: tf.ones([meanChannels]), scale: tf.ones([meanChannels]) },
          attrs,
        ),
      );
    expect(run(2, [2, 3, 3, 4])).toThrow(/mean has 2 values, x has 4 channels/);
    expect(run(4, [2, 3, 4, 3])).toThrow(/dy has shape \[2,3,4,3\], x has \[2,3,3,4\]/);
  });

  it('names the input that is not float32', async () => {
    await useNativeBackend(2);
    const run = () =>
      tf.tidy(() =>
        tf.engine().runKernel(
          BATCH_NORM_TRAIN,
          { x: tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1], 'int32'), scale: tf.ones([1]), offset: tf.zeros([1]) },
          { epsilon: EPSILON, relu: true } as unknown as NamedAttrMap,
        ),
      );
    expect(run).toThrow(UnsupportedKernelInputError);
    expect(run).toThrow(/RingtrainBatchNormTrain: input 'x' must be a float32 tensor, got int32/);
  });

  it('rejects parameters whose length is not the channel count', () => {
    const load = loadAddon();
    if (!load.ok) throw new Error(load.reason);
    const x = new Float32Array(24);
    const call = () =>
      load.addon.batchNormTrain(x, new Float32Array(3), new Float32Array(4), new Float32Array(24), new Float32Array(4), new Float32Array(4), 4, EPSILON, 1);
    expect(call).toThrow(/scale has 3 values, expected 4/);
    const ragged = () =>
      load.addon.batchNormTrain(new Float32Array(10), new Float32Array(4), new Float32Array(4), new Float32Array(10), new Float32Array(4), new Float32Array(4), 4, EPSILON, 1);
    expect(ragged).toThrow(/x has 10 values, not a whole number of rows of 4 channels/);
  });
});
