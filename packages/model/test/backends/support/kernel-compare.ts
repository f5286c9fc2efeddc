/**
 * Running one kernel on a named backend from plain arrays, and comparing results, so that a wasm
 * kernel can be checked against tfjs's reference `cpu` kernels on identical inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

export interface HostTensor {
  readonly shape: number[];
  readonly values: Float32Array;
}

/** A deterministic stream of uniform values in [-1, 1) (mulberry32). */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function randomHostTensor(shape: number[], random: () => number): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: size }, random) };
}

/** Runs `kernelName` on `backendName` (which becomes current) and reads the result back. */
export async function runKernelOn(
  backendName: string,
  kernelName: string,
  inputs: Record<string, HostTensor>,
  attrs: object,
): Promise<HostTensor> {
  await tf.setBackend(backendName);
  return tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, input] of Object.entries(inputs)) tensors[name] = tf.tensor(input.values, input.shape, 'float32');
    const out = tf.engine().runKernel(kernelName, tensors, attrs as NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, values: out.dataSync() as Float32Array };
  });
}

/** max |actual − expected| / max |expected| (the absolute error when expected is all zeros). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  if (actual.shape.join('×') !== expected.shape.join('×')) return Number.POSITIVE_INFINITY;
  let maxDifference = 0;
  let maxExpected = 0;
  for (let i = 0; i < expected.values.length; i++) {
    const difference = Math.abs((actual.values[i] as number) - (expected.values[i] as number));
    if (!(difference <= maxDifference)) maxDifference = difference; // NaN propagates
    maxExpected = Math.max(maxExpected, Math.abs(expected.values[i] as number));
  }
  return maxExpected === 0 ? maxDifference : maxDifference / maxExpected;
}

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

export interface ConvCase {
  readonly name: string;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly pad: Pad;
  readonly dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function describePad(pad: Pad): string {
  return typeof pad === 'string' ? pad : typeof pad === 'number' ? `pad ${pad}` : `pad ${JSON.stringify(pad.slice(1, 3))}`;
}

function caseName(c: Omit<ConvCase, 'name'>): string {
  const rounding = c.dimRoundingMode === undefined ? '' : ` ${c.dimRoundingMode}`;
  return (
    `${c.kernel}×${c.kernel}/${c.stride} ${describePad(c.pad)}${rounding}, ` +
    `x ${c.batch}×${c.height}×${c.width}×${c.inChannels}, ${c.outChannels} filters`
  );
}

/** The output size, or 0 when the convolution has no output. */
export function outputShape(c: ConvCase): number[] {
  try {
    const info = tf.backend_util.computeConv2DInfo(
      [c.batch, c.height, c.width, c.inChannels],
      [c.kernel, c.kernel, c.inChannels, c.outChannels],
      c.stride,
      1,
      c.pad,
      c.dimRoundingMode,
    );
    return info.outShape;
  } catch {
    return [0];
  }
}

/**
 * The convolutions every wasm convolution kernel is checked on: 1×1, 3×3 and 7×7 filters; strides
 * 1 and 2; 'same', 'valid', a number and explicit asymmetric paddings, with rounding modes; odd
 * and tiny images (1×1 included); batch 1 and more; 1 and odd channel counts.
 */
export function convCases(): ConvCase[] {
  const images: Array<[number, number, number, number, number]> = [
    // batch, height, width, inChannels, outChannels
    [1, 5, 7, 1, 3],
    [3, 9, 9, 3, 5],
    [2, 1, 1, 5, 2],
    [2, 2, 3, 4, 1],
    [2, 15, 13, 2, 7],
  ];
  const pads: Array<[Pad, ConvCase['dimRoundingMode']]> = [
    ['same', undefined],
    ['valid', undefined],
    [1, undefined],
    [1, 'ceil'],
    [2, 'floor'],
    [
      [
        [0, 0],
        [2, 1],
        [0, 3],
        [0, 0],
      ],
      undefined,
    ],
  ];
  const cases: ConvCase[] = [];
  for (const kernel of [1, 3, 7]) {
    for (const stride of [1, 2]) {
      for (const [pad, dimRoundingMode] of pads) {
        for (const [batch, height, width, inChannels, outChannels] of images) {
          const c = { batch, height, width, inChannels, outChannels, kernel, stride, pad, dimRoundingMode };
          const shape = outputShape({ ...c, name: '' });
          if (shape.length !== 4 || shape.some((d) => !(d > 0) || !Number.isInteger(d))) continue;
          cases.push({ ...c, name: caseName(c) });
        }
      }
    }
  }
  return cases;
}
