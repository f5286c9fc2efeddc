/**
 * MaxPool, AvgPool and their gradients on oneDNN for NHWC float32 tensors, with tfjs's own
 * `computePool2DInfo` for the geometry (see native/pool.cc for the averaging conventions).
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { POOL_AVG, POOL_MAX } from '../addon.ts';
import { float32Values, output, sizeOf } from './kernel-context.ts';
import type { KernelContext } from './kernel-context.ts';

type Shape4 = [number, number, number, number];

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The 14 integers of native/pool.cc's geometry. */
export function poolGeometry(info: backend_util.Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  );
}

function poolInfo(x: TensorInfo, attrs: PoolAttrs): backend_util.Conv2DInfo | null {
  if (x.shape.length !== 4) return null;
  const info = backend_util.computePool2DInfo(x.shape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return sizeOf(info.inShape) === 0 || sizeOf(info.outShape) === 0 ? null : info;
}

export function poolingKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;

  const pool = (kind: number) =>
    context.kernel(kind === POOL_MAX ? 'MaxPool' : 'AvgPool', ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: TensorInfo };
      const xValues = float32Values(backend, x);
      const info = poolInfo(x, attrs as unknown as PoolAttrs);
      if (xValues === null || info === null) return null;
      const out = backend.allocate(sizeOf(info.outShape));
      addon.pool2d(kind, xValues, out, poolGeometry(info));
      return output(backend, [...info.outShape], out);
    });

  return [
    pool(POOL_MAX),
    pool(POOL_AVG),

    context.kernel('MaxPoolGrad', ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
      const dyValues = float32Values(backend, dy);
      const xValues = float32Values(backend, input);
      const info = poolInfo(input, attrs as unknown as PoolAttrs);
      if (dyValues === null || xValues === null || info === null) return null;
      const dx = backend.allocate(sizeOf(info.inShape));
      addon.maxPool2dBackward(dyValues, xValues, dx, poolGeometry(info));
      return output(backend, [...info.inShape], dx);
    }),

    context.kernel('AvgPoolGrad', ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
      const dyValues = float32Values(backend, dy);
      // tfjs's AvgPoolGrad has no rounding mode: the output size is the floor one.
      const info = poolInfo(input, { ...(attrs as unknown as PoolAttrs), dimRoundingMode: undefined });
      if (dyValues === null || input.dtype !== 'float32' || info === null) return null;
      const dx = backend.allocate(sizeOf(info.inShape));
      addon.avgPool2dBackward(dyValues, dx, poolGeometry(info));
      return output(backend, [...info.inShape], dx);
    }),
  ];
}
