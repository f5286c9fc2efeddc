/**
 * Reading the attributes the tfjs convolution ops pass to their kernels, the same way the cpu
 * backend does (`backend_util.computeConv2DInfo`), into the per-axis form of `conv-geometry.ts`.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { ConvAxis } from './conv-geometry.ts';
import { UnsupportedKernelAttributesError } from './errors.ts';

export type Conv2DPad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
export type DimRoundingMode = 'floor' | 'round' | 'ceil';
export type Shape4D = [number, number, number, number];

export interface ResolvedConv2D {
  readonly info: backend_util.Conv2DInfo;
  readonly rows: ConvAxis;
  readonly cols: ConvAxis;
  readonly channelsFirst: boolean;
}

/**
 * Resolves a convolution with dilation 1 (the only one tfjs differentiates) from the input shape
 * in `dataFormat` and the HWIO filter shape.
 */
export function resolveConv2D(
  kernelName: string,
  inShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Conv2DPad,
  dataFormat: 'NHWC' | 'NCHW' | undefined,
  dimRoundingMode: DimRoundingMode | undefined,
): ResolvedConv2D {
  const format = backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  const info = backend_util.computeConv2DInfo(
    inShape as Shape4D,
    filterShape as Shape4D,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  if (info.outHeight < 0 || info.outWidth < 0 || !Number.isInteger(info.outHeight) || !Number.isInteger(info.outWidth)) {
    throw new UnsupportedKernelAttributesError(
      `${kernelName}: input ${inShape.join('×')} with filter ${filterShape.join('×')}, strides ${String(strides)} ` +
        `and pad ${JSON.stringify(pad)} give no valid output size`,
    );
  }
  return {
    info,
    rows: {
      inSize: info.inHeight,
      outSize: info.outHeight,
      filterSize: info.filterHeight,
      stride: info.strideHeight,
      padBefore: info.padInfo.top,
    },
    cols: {
      inSize: info.inWidth,
      outSize: info.outWidth,
      filterSize: info.filterWidth,
      stride: info.strideWidth,
      padBefore: info.padInfo.left,
    },
    channelsFirst: format === 'channelsFirst',
  };
}

/** Dilations as a pair; tfjs accepts a number or a pair. */
export function dilationPair(dilations: number | [number, number] | undefined): [number, number] {
  if (dilations === undefined) return [1, 1];
  return typeof dilations === 'number' ? [dilations, dilations] : dilations;
}

export function assertFloat32(kernelName: string, name: string, tensor: TensorInfo): void {
  if (tensor.dtype !== 'float32') {
    throw new UnsupportedKernelAttributesError(`${kernelName}: '${name}' must be float32, got ${tensor.dtype}`);
  }
}
