/**
 * Sum and Mean of float32 tensors over axes that form one contiguous block once size-1
 * dimensions are ignored (N·H·W of NHWC for batch-norm moments and gradients, H·W for global
 * average pooling, the last axis for a softmax). Other axis sets go to the cpu kernels.
 */
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { REDUCE_MEAN, REDUCE_SUM } from '../addon.ts';
import { float32Values, output, sizeOf } from './kernel-context.ts';
import type { KernelContext } from './kernel-context.ts';

/**
 * `[outer, reduced, inner]` sizes when the axes of `shape` to reduce are contiguous apart from
 * size-1 dimensions, else null.
 */
export function reductionBlock(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  const reduce = new Set(axes);
  let first = -1;
  let last = -1;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1 || !reduce.has(i)) continue;
    if (first < 0) first = i;
    last = i;
  }
  let outer = 1;
  let reduced = 1;
  let inner = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    if (d === 1) continue;
    if (first < 0 || i < first) outer *= d;
    else if (i > last) inner *= d;
    else if (reduce.has(i)) reduced *= d;
    else return null; // a kept dimension inside the reduced block
  }
  if (first < 0) return [outer, 1, 1];
  return [outer, reduced, inner];
}

export function reductionKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;
  const reduction = (kernelName: 'Sum' | 'Mean', op: number) =>
    context.kernel(kernelName, ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: TensorInfo };
      const { axis, keepDims } = attrs as { axis: number | number[]; keepDims?: boolean };
      const xValues = float32Values(backend, x);
      if (xValues === null) return null;
      const axes = util.parseAxisParam(axis, x.shape);
      const block = reductionBlock(x.shape, axes);
      if (block === null || block[1] === 0) return null;
      const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
      const shape = keepDims === true ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
      const out = backend.allocate(sizeOf(shape));
      addon.reduce(op, xValues, out, Int32Array.from(block));
      return output(backend, shape, out);
    });
  return [reduction('Sum', REDUCE_SUM), reduction('Mean', REDUCE_MEAN)];
}
