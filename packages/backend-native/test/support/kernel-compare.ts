/**
 * Running one kernel, or one differentiated function, on a named backend from plain arrays, so
 * that the native backend can be checked against tfjs's reference `cpu` kernels on identical
 * inputs.
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

export function randomHostTensor(shape: number[], random: () => number, scale = 1): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: size }, () => random() * scale) };
}

function toTensors(inputs: Record<string, HostTensor | null>): Record<string, tf.Tensor> {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, input] of Object.entries(inputs)) {
    if (input !== null) tensors[name] = tf.tensor(input.values, input.shape, 'float32');
  }
  return tensors;
}

function toHost(tensor: tf.Tensor): HostTensor {
  return { shape: tensor.shape, values: Float32Array.from(tensor.dataSync() as Float32Array) };
}

/**
 * Runs `kernelName` on `backendName` (which becomes current) and reads the result back. The
 * kernel runs under tfjs's IS_TEST flag, with which the engine fails a kernel that leaves a
 * backend buffer behind besides its outputs.
 */
export async function runKernelOn(
  backendName: string,
  kernelName: string,
  inputs: Record<string, HostTensor | null>,
  attrs: object,
): Promise<HostTensor> {
  await tf.setBackend(backendName);
  const wasTest = tf.env().getBool('IS_TEST');
  tf.env().set('IS_TEST', true);
  try {
    const out = tf.tidy(() => tf.engine().runKernel(kernelName, toTensors(inputs), attrs as NamedAttrMap) as tf.Tensor);
    try {
      return toHost(out);
    } finally {
      out.dispose();
    }
  } finally {
    tf.env().set('IS_TEST', wasTest);
  }
}

/**
 * Runs `f` on `backendName` and returns its value followed by its gradients with respect to
 * every input, in the order of `inputs`.
 */
export async function runGradientsOn(
  backendName: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: HostTensor[],
): Promise<HostTensor[]> {
  await tf.setBackend(backendName);
  const outs = tf.tidy(() => {
    const xs = inputs.map((input) => tf.tensor(input.values, input.shape, 'float32'));
    const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) => f(...args))(xs);
    return [value, ...grads];
  });
  try {
    return outs.map(toHost);
  } finally {
    tf.dispose(outs);
  }
}

/** max |actual − expected| / max |expected| (the absolute error when expected is all zeros). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  if (actual.shape.join('×') !== expected.shape.join('×')) return Number.POSITIVE_INFINITY;
  let maxDifference = 0;
  let maxExpected = 0;
  for (let i = 0; i < expected.values.length; i++) {
    const e = expected.values[i] as number;
    const a = actual.values[i] as number;
    if (a === e || (Number.isNaN(e) && Number.isNaN(a))) continue; // equal infinities too
    const difference = Math.abs(a - e);
    if (!(difference <= maxDifference)) maxDifference = difference; // NaN propagates
    if (Number.isFinite(e)) maxExpected = Math.max(maxExpected, Math.abs(e));
  }
  return maxExpected === 0 ? maxDifference : maxDifference / maxExpected;
}

/** The largest `relativeError` over pairs of results. */
export function worstRelativeError(actual: HostTensor[], expected: HostTensor[]): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  return Math.max(...actual.map((a, i) => relativeError(a, expected[i] as HostTensor)));
}
