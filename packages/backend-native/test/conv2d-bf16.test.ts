import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../src/addon.ts';
import { bf16ConvolutionSupport, convolutionPrecision, setConvolutionPrecision } from '../src/index.ts';
import { convGeometry } from '../src/kernels/conv2d.ts';
import { convCases, convInfo, convOutputShape } from './support/conv-cases.ts';
import type { ConvCase } from './support/conv-cases.ts';
import { randomHostTensor, relativeError, runKernelOn, seededUniform } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

const support = nativeAvailable ? bf16ConvolutionSupport() : { supported: false as const, reason: 'no native addon' };

/** The values rounded to the nearest bf16 (ties to even), as oneDNN converts them. */
function roundedToBf16(t: HostTensor): HostTensor {
  const values = Float32Array.from(t.values);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i] as number;
    bits[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
  }
  return { shape: t.shape, values };
}

/** Whether native/conv.cc runs this geometry as a dense float32 product rather than on oneDNN. */
function runsDense(c: ConvCase): boolean {
  const load = loadAddon();
  if (!load.ok) throw new Error(load.reason);
  return load.addon.conv2dImplementation(convGeometry(convInfo(c))).startsWith('fwd:dense_sgemm');
}

type Pass = 'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter';

/** One pass's inputs for case `c`, and the attributes tfjs takes with them. */
function problem(pass: Pass, c: ConvCase, seed: number): { inputs: Record<string, HostTensor>; attrs: object } {
  const random = seededUniform(seed);
  const x = randomHostTensor([c.batch, c.height, c.width, c.inChannels], random);
  const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
  const dy = randomHostTensor(convOutputShape(c) as number[], random);
  const base = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilation, dimRoundingMode: c.dimRoundingMode };
  if (pass === 'Conv2D') return { inputs: { x, filter }, attrs: base };
  if (pass === 'Conv2DBackpropInput') return { inputs: { dy, filter }, attrs: { ...base, inputShape: [c.batch, c.height, c.width, c.inChannels] } };
  return { inputs: { x, dy }, attrs: { ...base, filterShape: [c.kernel, c.kernel, c.inChannels, c.outChannels] } };
}

describe.skipIf(!support.supported)(nativeSuite(`bf16 convolutions${support.supported ? '' : ` (skipped: ${support.reason})`}`), () => {
  beforeAll(async () => {
    await useNativeBackend(1);
    setConvolutionPrecision('bf16');
  });
  afterAll(async () => {
    setConvolutionPrecision('f32');
    await useCpuBackend();
  });

  const cases = convCases({ every: 3 }).map((c, i) => ({ ...c, seed: 9000 + i }));
  const passes: Pass[] = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const table = passes.flatMap((pass) => cases.map((c) => ({ ...c, pass })));

  it('covers direct convolutions as well as the dense ones that stay float32', () => {
    expect(convolutionPrecision()).toBe('bf16');
    expect(cases.filter((c) => !runsDense(c)).length).toBeGreaterThan(20);
    expect(cases.some((c) => runsDense(c))).toBe(true);
  });

  it.each(table)('$pass equals float32 arithmetic on bf16-rounded inputs for $name', async (c) => {
    const { inputs, attrs } = problem(c.pass, c, c.seed);
    const rounded = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, roundedToBf16(t)]));
    const actual = await runKernelOn('native', c.pass, inputs, attrs);
    const exact = await runKernelOn('cpu', c.pass, inputs, attrs);
    if (runsDense(c)) {
      expect(relativeError(actual, exact)).toBeLessThan(1e-4);
      return;
    }
    // The products of bf16 values are exact in float32 and the sums are float32, so the result is
    // float32 arithmetic on the rounded inputs; it is not the float32 result on the inputs.
    const mixed = await runKernelOn('cpu', c.pass, rounded, attrs);
    expect(relativeError(actual, mixed)).toBeLessThan(1e-4);
    expect(relativeError(actual, exact)).toBeLessThan(2e-2);
    // A geometry whose every tap reads padding has an all-zero result in any precision.
    if (exact.values.some((v) => v !== 0)) expect(relativeError(actual, exact)).toBeGreaterThan(1e-4);
  });

  it('makes oneDNN choose other implementations than for float32', () => {
    const load = loadAddon();
    if (!load.ok) throw new Error(load.reason);
    // ResNet-18's second stage at 28×28 with the compact stem, width 0.5.
    const geometry = convGeometry(tf.backend_util.computeConv2DInfo([8, 7, 7, 64], [3, 3, 64, 64], 1, 1, 'same'));
    const bf16 = load.addon.conv2dImplementation(geometry);
    setConvolutionPrecision('f32');
    try {
      expect(bf16).not.toBe(load.addon.conv2dImplementation(geometry));
    } finally {
      setConvolutionPrecision('bf16');
    }
  });

  // Chosen at collection time, which also runs for a skipped suite: only ask the addon when it is there.
  const fusedCases = support.supported ? cases.filter((c) => !runsDense(c)).filter((_, i) => i % 5 === 0) : [];
  it.each(fusedCases)('FusedConv2D with a float32 bias and a ReLU equals float32 arithmetic on bf16-rounded inputs for $name', async (c) => {
    const random = seededUniform(c.seed + 7);
    const x = randomHostTensor([c.batch, c.height, c.width, c.inChannels], random);
    const filter = randomHostTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], random);
    const bias = randomHostTensor([c.outChannels], random);
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilation, dimRoundingMode: c.dimRoundingMode, activation: 'relu', leakyreluAlpha: 0 };
    const actual = await runKernelOn('native', 'FusedConv2D', { x, filter, bias }, attrs);
    // The bias is added in float32, after the bf16 products.
    const mixed = await runKernelOn('cpu', 'FusedConv2D', { x: roundedToBf16(x), filter: roundedToBf16(filter), bias }, attrs);
    expect(relativeError(actual, mixed)).toBeLessThan(1e-4);
  });

  it('returns to float32 results when set back', async () => {
    const c = cases.find((k) => !runsDense(k)) as ConvCase & { seed: number };
    const { inputs, attrs } = problem('Conv2D', c, c.seed);
    setConvolutionPrecision('f32');
    try {
      expect(relativeError(await runKernelOn('native', 'Conv2D', inputs, attrs), await runKernelOn('cpu', 'Conv2D', inputs, attrs))).toBeLessThan(1e-5);
    } finally {
      setConvolutionPrecision('bf16');
    }
  });
});

describe.skipIf(!nativeAvailable)(nativeSuite('the choice of convolution precision'), () => {
  it('refuses an unknown precision, naming the choices', () => {
    expect(() => setConvolutionPrecision('f16' as never)).toThrow(/unknown convolution precision 'f16'; choose one of f32, bf16/);
  });

  it('refuses bf16 on a CPU without bf16 arithmetic, naming what the CPU has', () => {
    // oneDNN's ISA cap makes this CPU look like one without AVX512-BF16 to a fresh process.
    const script = fileURLToPath(new URL('./fixtures/set-bf16.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'AVX2' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stdout).toMatch(/supported false: bf16 convolutions need a CPU with AVX512-BF16 or AMX; the best oneDNN finds on this one is (avx2|avx|sse41)\n/);
    expect(child.stdout).toMatch(/refused: bf16 convolutions need a CPU with AVX512-BF16 or AMX/);
    expect(child.stdout).toMatch(/addon refused: bf16 convolutions need a CPU with AVX512-BF16 or AMX/);
    expect(child.stdout).toMatch(/precision f32/);
    expect(child.status).toBe(0);
  });
});
