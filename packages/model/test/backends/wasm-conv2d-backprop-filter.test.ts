import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { selectBackend } from '../../src/backends/index.ts';
import { registerWasmConv2DBackpropFilter } from '../../src/backends/index.ts';
import { UnsupportedKernelAttributesError } from '../../src/backends/index.ts';
import type { FilterGradStrategy } from '../../src/backends/index.ts';
import { convCases, outputShape, randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import type { ConvCase } from './support/kernel-compare.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

async function compareWithCpu(c: ConvCase, seed: number, dataFormat: 'NHWC' | 'NCHW' = 'NHWC'): Promise<number> {
  const random = seededUniform(seed);
  const nhwc = [c.batch, c.height, c.width, c.inChannels];
  const out = outputShape(c);
  const toFormat = (shape: number[]) => (dataFormat === 'NHWC' ? shape : [shape[0]!, shape[3]!, shape[1]!, shape[2]!]);
  const x = randomHostTensor(toFormat(nhwc), random);
  const dy = randomHostTensor(toFormat(out), random);
  const attrs = {
    strides: c.stride,
    pad: c.pad,
    dataFormat,
    dimRoundingMode: c.dimRoundingMode,
    filterShape: [c.kernel, c.kernel, c.inChannels, c.outChannels],
  };
  const actual = await runKernelOn('wasm', 'Conv2DBackpropFilter', { x, dy }, attrs);
  const expected = await runKernelOn('cpu', 'Conv2DBackpropFilter', { x, dy }, attrs);
  await tf.setBackend('wasm');
  return relativeError(actual, expected);
}

describe('the wasm Conv2DBackpropFilter', () => {
  const cases = convCases();

  it('is checked on more than a hundred convolutions', () => {
    expect(cases.length).toBeGreaterThan(100);
  });

  it.each(cases.map((c, i) => ({ ...c, seed: i + 1 })))('matches the cpu backend for $name', async (c) => {
    expect(await compareWithCpu(c, c.seed)).toBeLessThan(1e-5);
  });

  const strategies: FilterGradStrategy[] = ['conv', 'im2col'];
  const strategyCases = cases.filter((_, i) => i % 3 === 0);
  describe.each(strategies)("with the '%s' strategy forced", (strategy) => {
    beforeAll(() => registerWasmConv2DBackpropFilter(strategy));

    it.each(strategyCases.map((c, i) => ({ ...c, seed: 1000 + i })))('matches the cpu backend for $name', async (c) => {
      expect(await compareWithCpu(c, c.seed)).toBeLessThan(1e-5);
    });
  });

  it('matches the cpu backend for channels-first (NCHW) tensors', async () => {
    registerWasmConv2DBackpropFilter('auto');
    const c = cases.find((k) => k.kernel === 3 && k.stride === 2 && k.pad === 'same' && k.batch === 3);
    expect(c).toBeDefined();
    expect(await compareWithCpu(c as ConvCase, 7, 'NCHW')).toBeLessThan(1e-5);
  });

  it('leaves no tensor and no backend buffer behind but its result', () => {
    registerWasmConv2DBackpropFilter('auto');
    tf.env().set('IS_TEST', true); // the engine then also checks every kernel for leaked buffers
    try {
      const x = tf.randomNormal([4, 9, 9, 3]);
      const dy = tf.randomNormal([4, 5, 5, 8]);
      const tensorsBefore = tf.memory().numTensors;
      const buffersBefore = tf.engine().backend.numDataIds();
      for (const strategy of ['auto', 'conv', 'im2col'] as const) {
        registerWasmConv2DBackpropFilter(strategy);
        const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] };
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs);
        expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
        expect(tf.engine().backend.numDataIds()).toBe(buffersBefore + 1);
        (dw as tf.Tensor).dispose();
      }
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(tf.engine().backend.numDataIds()).toBe(buffersBefore);
      tf.dispose([x, dy]);
    } finally {
      tf.env().set('IS_TEST', false);
      registerWasmConv2DBackpropFilter('auto');
    }
  });

  it('rejects int32 inputs with an error naming the kernel and the input', () => {
    const x = tf.zeros([1, 3, 3, 1], 'int32');
    const dy = tf.zeros([1, 3, 3, 1], 'float32');
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 1, 1] }),
    ).toThrow(UnsupportedKernelAttributesError);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 1, 1] }),
    ).toThrow(/Conv2DBackpropFilter: 'x' must be float32, got int32/);
    tf.dispose([x, dy]);
  });
});
