/**
 * BatchMatMul and _FusedMatMul (bias and activation) on oneDNN's SGEMM. Batches broadcast when
 * they are equal or one side has a single matrix; PReLU goes to the cpu kernel.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { BINARY_CODES, UNARY_CODES } from '../addon.ts';
import type { NativeAddon } from '../addon.ts';
import { broadcastBinary } from './elementwise.ts';
import { float32Values, output, sizeOf } from './kernel-context.ts';
import type { KernelContext, NativeKernelBackend } from './kernel-context.ts';

const FUSED_ACTIVATIONS: Readonly<Record<string, number | null>> = {
  linear: null,
  relu: UNARY_CODES.Relu,
  relu6: UNARY_CODES.Relu6,
  elu: UNARY_CODES.Elu,
  leakyrelu: UNARY_CODES.LeakyRelu,
  sigmoid: UNARY_CODES.Sigmoid,
};

function batchMatMul(
  addon: NativeAddon,
  backend: NativeKernelBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { shape: number[]; values: Float32Array } | null {
  const aValues = float32Values(backend, a);
  const bValues = float32Values(backend, b);
  if (aValues === null || bValues === null || a.shape.length < 2 || b.shape.length < 2) return null;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = (transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2]) as number;
  const k = (transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1]) as number;
  const kB = (transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2]) as number;
  const n = (transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1]) as number;
  if (k !== kB) return null; // the cpu kernel reports the mismatch
  const batchShape = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const shape = [...batchShape, m, n];
  const values = backend.allocate(sizeOf(shape));
  if (values.length > 0) addon.matMul(aValues, bValues, values, Int32Array.of(batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0));
  return { shape, values };
}

export function matMulKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;
  return [
    context.kernel('BatchMatMul', ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
      const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
      const result = batchMatMul(addon, backend, a, b, transposeA === true, transposeB === true);
      return result === null ? null : output(backend, result.shape, result.values);
    }),

    context.kernel('_FusedMatMul', ({ inputs, backend, attrs }) => {
      const { a, b, bias, preluActivationWeights } = inputs as {
        a: TensorInfo;
        b: TensorInfo;
        bias?: TensorInfo;
        preluActivationWeights?: TensorInfo;
      };
      const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as {
        transposeA?: boolean;
        transposeB?: boolean;
        activation?: string;
        leakyreluAlpha?: number;
      };
      const activationCode = FUSED_ACTIVATIONS[activation ?? 'linear'];
      if (activationCode === undefined || preluActivationWeights != null) return null;
      let biasValues: Float32Array | null = null;
      if (bias != null) {
        biasValues = float32Values(backend, bias);
        if (biasValues === null) return null;
      }
      let result = batchMatMul(addon, backend, a, b, transposeA === true, transposeB === true);
      if (result === null) return null;
      if (bias != null && biasValues !== null) {
        result = broadcastBinary(addon, backend, BINARY_CODES.Add, result.values, result.shape, biasValues, bias.shape);
        if (result === null) return null;
      }
      if (activationCode !== null) addon.unary(activationCode, result.values, result.values, leakyreluAlpha ?? 0.2);
      return output(backend, result.shape, result.values);
    }),
  ];
}
