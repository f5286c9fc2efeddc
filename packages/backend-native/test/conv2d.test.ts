import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { convCases, convOutputShape } from './support/conv-cases.ts';
import type { ConvCase } from './support/conv-cases.ts';
import { randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

async function compare(kernelName: string, c: ConvCase, seed: number, extra: { bias?: boolean; activation?: string } = {}): Promise<number> {
  const random = seededUniform(seed);
  const x = randomHostTensor([c.batch, c.height, c.width, c.inChannels], random);
  const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
  const bias = extra.bias === true ? randomHostTensor([c.outChannels], random) : null;
  const attrs = {
    strides: c.stride,
    pad: c.pad,
    dataFormat: 'NHWC',
    dilations: c.dilation,
    dimRoundingMode: c.dimRoundingMode,
    activation: extra.activation ?? 'linear',
    leakyreluAlpha: 0.3,
  };
  const actual = await runKernelOn('native', kernelName, { x, filter, bias }, attrs);
  const expected = await runKernelOn('cpu', kernelName, { x, filter, bias }, attrs);
  expect(actual.shape).toEqual(convOutputShape(c));
  return relativeError(actual, expected);
}

describe.skipIf(!nativeAvailable)(nativeSuite('the native Conv2D'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const cases = convCases({ withDilation: true });

  it('is checked on more than a hundred convolutions, dilated and cropped ones among them', () => {
    expect(cases.length).toBeGreaterThan(100);
    expect(cases.some((c) => c.dilation === 2)).toBe(true);
    expect(cases.some((c) => c.height === 1 && c.kernel === 3)).toBe(true);
  });

  it.each(cases.map((c, i) => ({ ...c, seed: i + 1 })))('matches the cpu backend for $name', async (c) => {
    expect(await compare('Conv2D', c, c.seed)).toBeLessThan(1e-4);
  });

  it('ran every case natively, none on the cpu kernel', () => {
    const counts = nativeBackendStats().kernels.get('Conv2D');
    expect(counts?.native).toBeGreaterThanOrEqual(cases.length);
    expect(counts?.fallback).toBe(0);
  });
});

describe.skipIf(!nativeAvailable)(nativeSuite('the native FusedConv2D'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const cases = convCases({ every: 7 });
  const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'];
  const table = cases.map((c, i) => ({ ...c, activation: activations[i % activations.length] as string, bias: i % 3 !== 2, seed: 500 + i }));

  it.each(table)('matches the cpu backend for $activation (bias $bias) on $name', async (c) => {
    expect(await compare('FusedConv2D', c, c.seed, { bias: c.bias, activation: c.activation })).toBeLessThan(1e-4);
  });
});
