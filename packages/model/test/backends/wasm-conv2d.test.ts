import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { selectBackend } from '../../src/backends/index.ts';
import { convCases, randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('the wasm Conv2D that skips taps reading only padding', () => {
  it.each(convCases().map((c, i) => ({ ...c, seed: 3000 + i })))('matches the cpu backend for $name', async (c) => {
    const random = seededUniform(c.seed);
    const x = randomHostTensor([c.batch, c.height, c.width, c.inChannels], random);
    const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: c.dimRoundingMode };
    const actual = await runKernelOn('wasm', 'Conv2D', { x, filter }, attrs);
    const expected = await runKernelOn('cpu', 'Conv2D', { x, filter }, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it('still runs dilated convolutions, through the original kernel', async () => {
    const random = seededUniform(5);
    const x = randomHostTensor([2, 9, 9, 3], random);
    const filter = randomHostTensor([3, 3, 3, 4], random);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2 };
    const actual = await runKernelOn('wasm', 'Conv2D', { x, filter }, attrs);
    const expected = await runKernelOn('cpu', 'Conv2D', { x, filter }, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it('leaves no backend buffer behind when it crops a 3×3 filter over a 1×1 image', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([4, 1, 1, 16]);
    const filter = tf.randomNormal([3, 3, 16, 8]);
    const buffersBefore = tf.engine().backend.numDataIds();
    const y = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same');
    expect(y.shape).toEqual([4, 1, 1, 8]);
    expect(tf.engine().backend.numDataIds()).toBe(buffersBefore + 1);
    tf.dispose([x, filter, y]);
  });
});
