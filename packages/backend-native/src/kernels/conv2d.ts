/**
 * Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter on oneDNN for NHWC float32
 * tensors. The geometry (output size, paddings) is tfjs's own `computeConv2DInfo`, so 'same',
 * 'valid', explicit paddings and every `dimRoundingMode` mean what they mean on the cpu backend.
 * Channels-first data, PReLU activations and biases that are not one value per output channel go
 * to the cpu kernels.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { ACTIVATION_CODES } from '../addon.ts';
import { float32Values, output, sizeOf } from './kernel-context.ts';
import type { KernelContext, NativeKernelBackend } from './kernel-context.ts';

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type DimRoundingMode = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: DimRoundingMode;
}

/** The 17 integers of native/conv.cc's geometry, from tfjs's own convolution info. */
export function convGeometry(info: backend_util.Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  );
}

function isNhwc(dataFormat: string | undefined): boolean {
  return (dataFormat ?? 'NHWC') === 'NHWC';
}

function hasZeroSize(info: backend_util.Conv2DInfo): boolean {
  return sizeOf(info.inShape) === 0 || sizeOf(info.outShape) === 0 || sizeOf(info.filterShape) === 0;
}

// tfjs's fused-convolution gradient drops `dimRoundingMode`, so its dy can be larger than the
// geometry it asks for; the cpu kernel's reading of that case is the reference.
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function conv2dKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;

  const forward = (
    backend: NativeKernelBackend,
    x: TensorInfo,
    filter: TensorInfo,
    bias: TensorInfo | undefined,
    attrs: ConvAttrs,
    activation: number,
    leakyreluAlpha: number,
  ): TensorInfo | null => {
    if (!isNhwc(attrs.dataFormat)) return null;
    const xValues = float32Values(backend, x);
    const filterValues = float32Values(backend, filter);
    if (xValues === null || filterValues === null) return null;
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    if (hasZeroSize(info)) return null;
    let biasValues: Float32Array | null = null;
    if (bias !== undefined) {
      biasValues = float32Values(backend, bias);
      // One value per output channel; other broadcasts are left to the cpu kernel.
      if (biasValues === null || biasValues.length !== info.outChannels || bias.shape.at(-1) !== info.outChannels) return null;
    }
    const out = backend.allocate(sizeOf(info.outShape));
    addon.conv2d(xValues, filterValues, biasValues, out, convGeometry(info), activation, leakyreluAlpha);
    return output(backend, info.outShape, out);
  };

  return [
    context.kernel('Conv2D', ({ inputs, backend, attrs }) => {
      const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
      return forward(backend, x, filter, undefined, attrs as unknown as ConvAttrs, ACTIVATION_CODES.linear, 0);
    }),

    context.kernel('FusedConv2D', ({ inputs, backend, attrs }) => {
      const { x, filter, bias, preluActivationWeights } = inputs as {
        x: TensorInfo;
        filter: TensorInfo;
        bias?: TensorInfo;
        preluActivationWeights?: TensorInfo;
      };
      const { activation, leakyreluAlpha } = attrs as { activation?: string; leakyreluAlpha?: number };
      const code = ACTIVATION_CODES[(activation ?? 'linear') as keyof typeof ACTIVATION_CODES];
      if (code === undefined || preluActivationWeights != null) return null;
      return forward(backend, x, filter, bias ?? undefined, attrs as unknown as ConvAttrs, code, leakyreluAlpha ?? 0.2);
    }),

    context.kernel('Conv2DBackpropInput', ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      const { inputShape, ...conv } = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
      if (!isNhwc(conv.dataFormat)) return null;
      const dyValues = float32Values(backend, dy);
      const filterValues = float32Values(backend, filter);
      if (dyValues === null || filterValues === null) return null;
      const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, conv.strides, 1, conv.pad, conv.dimRoundingMode, false, 'channelsLast');
      if (hasZeroSize(info) || !sameShape(dy.shape, info.outShape)) return null;
      const dx = backend.allocate(sizeOf(info.inShape));
      addon.conv2dBackpropInput(dyValues, filterValues, dx, convGeometry(info));
      return output(backend, [...info.inShape], dx);
    }),

    context.kernel('Conv2DBackpropFilter', ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { filterShape, ...conv } = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
      if (!isNhwc(conv.dataFormat)) return null;
      const xValues = float32Values(backend, x);
      const dyValues = float32Values(backend, dy);
      if (xValues === null || dyValues === null) return null;
      const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, conv.strides, 1, conv.pad, conv.dimRoundingMode, false, 'channelsLast');
      if (hasZeroSize(info) || !sameShape(dy.shape, info.outShape)) return null;
      const dw = backend.allocate(sizeOf(info.filterShape));
      addon.conv2dBackpropFilter(xValues, dyValues, dw, convGeometry(info));
      return output(backend, [...info.filterShape], dw);
    }),
  ];
}
