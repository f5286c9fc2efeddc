/**
 * FusedBatchNorm (tfjs's `batchNorm`: normalisation with given mean and variance, then scale and
 * offset) in a native loop, with tfjs's cyclic indexing of the parameters.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { float32Values, output } from './kernel-context.ts';
import type { KernelContext } from './kernel-context.ts';

export function batchNormKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;
  return [
    context.kernel('FusedBatchNorm', ({ inputs, backend, attrs }) => {
      const { x, mean, variance, offset, scale } = inputs as {
        x: TensorInfo;
        mean: TensorInfo;
        variance: TensorInfo;
        offset?: TensorInfo;
        scale?: TensorInfo;
      };
      const xValues = float32Values(backend, x);
      const meanValues = float32Values(backend, mean);
      const varianceValues = float32Values(backend, variance);
      const offsetValues = offset == null ? null : float32Values(backend, offset);
      const scaleValues = scale == null ? null : float32Values(backend, scale);
      if (xValues === null || meanValues === null || varianceValues === null) return null;
      if ((offset != null && offsetValues === null) || (scale != null && scaleValues === null)) return null;
      if (xValues.length === 0 || meanValues.length === 0 || varianceValues.length === 0) return null;
      if (offsetValues?.length === 0 || scaleValues?.length === 0) return null;
      // The cpu kernel checks that the parameters have equal ranks; let it report violations.
      const rank = mean.shape.length;
      if (variance.shape.length !== rank || (offset != null && offset.shape.length !== rank) || (scale != null && scale.shape.length !== rank)) {
        return null;
      }
      const { varianceEpsilon } = attrs as { varianceEpsilon?: number };
      const out = backend.allocate(xValues.length);
      addon.batchNorm(xValues, meanValues, varianceValues, offsetValues, scaleValues, out, varianceEpsilon ?? 0.001);
      return output(backend, [...x.shape], out);
    }),
  ];
}
