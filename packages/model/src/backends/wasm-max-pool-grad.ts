/**
 * `MaxPoolGrad` for the wasm backend. The one tfjs 4.22 ships starts each window's maximum at
 * `std::numeric_limits<float>::min()`, the smallest *positive* float, so a window holding no
 * positive value (all zeros after a ReLU, or all negative) loses its gradient; it is also about
 * four times slower than this loop at ResNet shapes (see `bench/wasm-kernel-profile.ts`).
 *
 * Semantics are the cpu backend's: the gradient of each output goes to the first maximum of its
 * window in row-major order, padding never wins, and overlapping windows add up.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { assertFloat32 } from './conv-info.ts';
import type { DimRoundingMode } from './conv-info.ts';

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: DimRoundingMode;
}

export const maxPoolGradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  assertFloat32('MaxPoolGrad', 'dy', dy);
  assertFloat32('MaxPoolGrad', 'input', input);
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput(input.shape, 'float32');
  // Views are taken after allocating: a growing heap detaches older ones.
  const x = wasm.typedArrayFromHeap(input);
  const gradient = wasm.typedArrayFromHeap(dy);
  const dx = wasm.typedArrayFromHeap(out);
  dx.fill(0);
  const best = new Float32Array(inChannels);
  const where = new Int32Array(inChannels);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = oh * strideHeight - info.padInfo.top;
      const rowBegin = Math.max(0, top);
      const rowEnd = Math.min(inHeight, top + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const left = ow * strideWidth - info.padInfo.left;
        const colBegin = Math.max(0, left);
        const colEnd = Math.min(inWidth, left + filterWidth);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let r = rowBegin; r < rowEnd; r++) {
          for (let c = colBegin; c < colEnd; c++) {
            const base = ((n * inHeight + r) * inWidth + c) * inChannels;
            for (let d = 0; d < inChannels; d++) {
              const value = x[base + d] as number;
              if (value > (best[d] as number)) {
                best[d] = value;
                where[d] = base + d;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * inChannels;
        for (let d = 0; d < inChannels; d++) {
          const target = where[d] as number;
          if (target >= 0) dx[target] = (dx[target] as number) + (gradient[dyBase + d] as number);
        }
      }
    }
  }
  return out;
};

export const maxPoolGradKernelConfig: KernelConfig = { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGradKernel };
