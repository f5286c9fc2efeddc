import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { convCases, convOutputShape } from './support/conv-cases.ts';
import type { ConvCase } from './support/conv-cases.ts';
import { randomHostTensor, relativeError, runGradientsOn, runKernelOn, seededUniform, worstRelativeError } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

function attrsOf(c: ConvCase): { strides: number; pad: ConvCase['pad']; dataFormat: 'NHWC'; dimRoundingMode: ConvCase['dimRoundingMode'] } {
  return { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native convolution gradients'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const cases = convCases().map((c, i) => ({ ...c, seed: 2000 + i }));

  it.each(cases)('Conv2DBackpropInput matches the cpu backend for $name', async (c) => {
    const random = seededUniform(c.seed);
    const dy = randomHostTensor(convOutputShape(c) as number[], random);
    const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
    const attrs = { ...attrsOf(c), inputShape: [c.batch, c.height, c.width, c.inChannels] };
    const actual = await runKernelOn('native', 'Conv2DBackpropInput', { dy, filter }, attrs);
    const expected = await runKernelOn('cpu', 'Conv2DBackpropInput', { dy, filter }, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-4);
  });

  it.each(cases)('Conv2DBackpropFilter matches the cpu backend for $name', async (c) => {
    const random = seededUniform(c.seed);
    const x = randomHostTensor([c.batch, c.height, c.width, c.inChannels], random);
    const dy = randomHostTensor(convOutputShape(c) as number[], random);
    const attrs = { ...attrsOf(c), filterShape: [c.kernel, c.kernel, c.inChannels, c.outChannels] };
    const actual = await runKernelOn('native', 'Conv2DBackpropFilter', { x, dy }, attrs);
    const expected = await runKernelOn('cpu', 'Conv2DBackpropFilter', { x, dy }, attrs);
    expect(relativeError(actual, expected)).toBeLessThan(1e-4);
  });

  it('ran every case natively, none on the cpu kernels', () => {
    for (const name of ['Conv2DBackpropInput', 'Conv2DBackpropFilter']) {
      expect(nativeBackendStats().kernels.get(name)?.native, name).toBeGreaterThanOrEqual(cases.length);
      expect(nativeBackendStats().kernels.get(name)?.fallback, name).toBe(0);
    }
  });

  const fused = ['linear', 'relu', 'elu', 'sigmoid'] as const;
  it.each(cases.filter((_, i) => i % 9 === 0).map((c, i) => ({ ...c, activation: fused[i % fused.length] as (typeof fused)[number] })))(
    'the gradient of a $activation fused convolution with bias matches the cpu backend for $name',
    async (c) => {
      const random = seededUniform(c.seed + 1);
      const inputs = [
        randomHostTensor([c.batch, c.height, c.width, c.inChannels], random),
        randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random),
        randomHostTensor([c.outChannels], random),
      ];
      // A weighted sum, so that every output position gets its own upstream gradient.
      const weights = randomHostTensor(convOutputShape(c) as number[], random);
      const f = (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor): tf.Tensor => {
        const y = tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: filter as tf.Tensor4D,
          bias,
          strides: c.stride,
          pad: c.pad,
          dimRoundingMode: c.dimRoundingMode,
          activation: c.activation,
        });
        return tf.sum(tf.mul(y, tf.tensor(weights.values, weights.shape)));
      };
      const actual = await runGradientsOn('native', f, inputs);
      const expected = await runGradientsOn('cpu', f, inputs);
      expect(worstRelativeError(actual, expected)).toBeLessThan(1e-4);
    },
  );
});
