/**
 * Element-wise kernels in native loops: Add, Sub, Multiply, RealDiv, SquaredDifference, Maximum,
 * Minimum with broadcasting, and the unary functions a ResNet step and its gradient use (Relu
 * and Step above all: the ReLU mask of every backward pass). In tfjs's cpu backend these run as
 * JavaScript loops with per-element index arithmetic for broadcasts; once the convolutions are
 * in oneDNN they are most of a training step.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { BINARY_CODES, UNARY_CODES } from '../addon.ts';
import type { NativeAddon } from '../addon.ts';
import { float32Values, output, sizeOf } from './kernel-context.ts';
import type { KernelContext, NativeKernelBackend } from './kernel-context.ts';

/** `op(a, b)` with numpy broadcasting into a new array of the broadcast shape. */
export function broadcastBinary(
  addon: NativeAddon,
  backend: NativeKernelBackend,
  op: number,
  a: Float32Array,
  aShape: readonly number[],
  b: Float32Array,
  bShape: readonly number[],
): { shape: number[]; values: Float32Array } | null {
  const shape = backend_util.assertAndGetBroadcastShape([...aShape], [...bShape]);
  const rank = shape.length;
  if (rank > 8) return null;
  const size = sizeOf(shape);
  const values = backend.allocate(size);
  if (size === 0) return { shape, values };
  const packed = new Int32Array(1 + 3 * rank);
  packed[0] = rank;
  for (let i = 0; i < rank; i++) {
    packed[1 + i] = shape[i] as number;
    packed[1 + rank + i] = (aShape[i - (rank - aShape.length)] ?? 1) as number;
    packed[1 + 2 * rank + i] = (bShape[i - (rank - bShape.length)] ?? 1) as number;
  }
  addon.binary(op, a, b, values, packed);
  return { shape, values };
}

export function elementwiseKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;

  const binaryKernel = (kernelName: keyof typeof BINARY_CODES) =>
    context.kernel(kernelName, ({ inputs, backend }) => {
      const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
      const aValues = float32Values(backend, a);
      const bValues = float32Values(backend, b);
      if (aValues === null || bValues === null) return null;
      const result = broadcastBinary(addon, backend, BINARY_CODES[kernelName], aValues, a.shape, bValues, b.shape);
      return result === null ? null : output(backend, result.shape, result.values);
    });

  const unaryKernel = (kernelName: keyof typeof UNARY_CODES, alphaOf: (attrs: Record<string, unknown>) => number = () => 0) =>
    context.kernel(kernelName, ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: TensorInfo };
      const xValues = float32Values(backend, x);
      if (xValues === null) return null;
      const out = backend.allocate(xValues.length);
      addon.unary(UNARY_CODES[kernelName], xValues, out, alphaOf(attrs as Record<string, unknown>));
      return output(backend, [...x.shape], out);
    });

  const alphaAttr = (fallback: number) => (attrs: Record<string, unknown>) => (typeof attrs.alpha === 'number' ? attrs.alpha : fallback);

  return [
    ...(Object.keys(BINARY_CODES) as (keyof typeof BINARY_CODES)[]).map((name) => binaryKernel(name)),
    unaryKernel('Relu'),
    unaryKernel('Relu6'),
    unaryKernel('Step', alphaAttr(0)),
    unaryKernel('Neg'),
    unaryKernel('Square'),
    unaryKernel('Sqrt'),
    unaryKernel('Rsqrt'),
    unaryKernel('Exp'),
    unaryKernel('Log'),
    unaryKernel('Abs'),
    unaryKernel('Sigmoid'),
    unaryKernel('Elu'),
    unaryKernel('LeakyRelu', alphaAttr(0.2)),
    unaryKernel('Tanh'),
  ];
}
