import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { selectBackend } from '../../src/backends/index.ts';
import { convCases, outputShape, randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import type { ConvCase } from './support/kernel-compare.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

async function compareWithCpu(c: ConvCase, seed: number, dataFormat: 'NHWC' | 'NCHW' = 'NHWC'): Promise<number> {
  const random = seededUniform(seed);
  const inputShape = [c.batch, c.height, c.width, c.inChannels];
  const out = outputShape(c);
  const dy = randomHostTensor(dataFormat === 'NHWC' ? out : [out[0]!, out[3]!, out[1]!, out[2]!], random);
  const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
  const attrs = {
    strides: c.stride,
    pad: c.pad,
    dataFormat,
    dimRoundingMode: c.dimRoundingMode,
    inputShape: dataFormat === 'NHWC' ? inputShape : [c.batch, c.inChannels, c.height, c.width],
  };
  const actual = await runKernelOn('wasm', 'Conv2DBackpropInput', { dy, filter }, attrs);
  const expected = await runKernelOn('cpu', 'Conv2DBackpropInput', { dy, filter }, attrs);
  await tf.setBackend('wasm');
  return relativeError(actual, expected);
}

describe('the wasm Conv2DBackpropInput on XNNPACK', () => {
  const cases = convCases();

  it.each(cases.map((c, i) => ({ ...c, seed: 2000 + i })))('matches the cpu backend for $name', async (c) => {
    expect(await compareWithCpu(c, c.seed)).toBeLessThan(1e-5);
  });

  it('matches the cpu backend for channels-first (NCHW) tensors', async () => {
    const c = cases.find((k) => k.kernel === 3 && k.stride === 2 && k.pad === 'same' && k.batch === 3);
    expect(c).toBeDefined();
    expect(await compareWithCpu(c as ConvCase, 11, 'NCHW')).toBeLessThan(1e-5);
  });

  it('leaves no tensor and no backend buffer behind but its result', () => {
    tf.env().set('IS_TEST', true); // the engine then also checks every kernel for leaked buffers
    try {
      const dy = tf.randomNormal([4, 5, 5, 8]);
      const filter = tf.randomNormal([3, 3, 3, 8]);
      const tensorsBefore = tf.memory().numTensors;
      const buffersBefore = tf.engine().backend.numDataIds();
      const dx = tf.engine().runKernel(
        'Conv2DBackpropInput',
        { dy, filter },
        { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [4, 9, 9, 3] },
      ) as tf.Tensor;
      expect(dx.shape).toEqual([4, 9, 9, 3]);
      expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
      expect(tf.engine().backend.numDataIds()).toBe(buffersBefore + 1);
      dx.dispose();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(tf.engine().backend.numDataIds()).toBe(buffersBefore);
      tf.dispose([dy, filter]);
    } finally {
      tf.env().set('IS_TEST', false);
    }
  });
});
