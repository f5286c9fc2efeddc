/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs 4.22 does not ship: without it the wasm
 * backend cannot train a convolution.
 *
 *   dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n, oh, ow, co]
 *
 * is itself a convolution once batch and channels swap places: the input is x transposed to
 * [ci, H, W, n] (the batch becomes the channels), the filter is dy transposed to [oh, ow, n, co]
 * (HWIO), the stride becomes a dilation and the result [ci, kh, kw, co] is transposed back. That
 * convolution runs in the backend's XNNPACK `Conv2D`, which is an order of magnitude faster than a
 * scalar loop (see `bench/wasm-kernel-profile.ts`).
 *
 * For most shapes of a ResNet another form is faster and is picked per shape (`chooseMethod`):
 * dW = patches · dy, one matrix product (XNNPACK's fully-connected kernel) of the input's patches,
 * one column per output position, with dy. Its result is already HWIO.
 *
 * Filter taps that only ever read padding are not computed (their gradient is zero), which turns a
 * 3×3 'same' convolution over a 1×1 image into one tap.
 */
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { planFilterGradAxis, readsWholeAxis } from './conv-geometry.ts';
import type { FilterGradAxisPlan } from './conv-geometry.ts';
import { assertFloat32, resolveConv2D } from './conv-info.ts';
import type { Conv2DPad, DimRoundingMode, ResolvedConv2D } from './conv-info.ts';
import { WasmKernelScope } from './wasm-kernel-scope.ts';

/**
 * How the filter gradient is computed: `conv` (batch-as-channels convolution), `im2col` (patches
 * times dy), or `auto`, which picks per shape what measured fastest.
 */
export type FilterGradStrategy = 'auto' | 'conv' | 'im2col';

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: Conv2DPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: DimRoundingMode;
  filterShape: [number, number, number, number];
}

export function createConv2DBackpropFilterKernel(strategy: FilterGradStrategy = 'auto'): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    assertFloat32('Conv2DBackpropFilter', 'x', x);
    assertFloat32('Conv2DBackpropFilter', 'dy', dy);
    const conv = resolveConv2D('Conv2DBackpropFilter', x.shape, filterShape, strides, pad, dataFormat, dimRoundingMode);
    return WasmKernelScope.run(backend as KernelBackend, (scope) => {
      const xNhwc = conv.channelsFirst ? scope.transpose(x, [0, 2, 3, 1]) : x;
      const dyNhwc = conv.channelsFirst ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
      return filterGradient(scope, xNhwc, dyNhwc, conv, strategy);
    });
  };
}

export function conv2DBackpropFilterKernelConfig(strategy: FilterGradStrategy = 'auto'): KernelConfig {
  return { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: createConv2DBackpropFilterKernel(strategy) };
}

function filterGradient(
  scope: WasmKernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  conv: ResolvedConv2D,
  strategy: FilterGradStrategy,
): TensorInfo {
  const { filterHeight, filterWidth, inChannels, outChannels, batchSize } = conv.info;
  const filterShape = [filterHeight, filterWidth, inChannels, outChannels];
  const rows = planFilterGradAxis(conv.rows);
  const cols = planFilterGradAxis(conv.cols);
  if (rows === null || cols === null || batchSize === 0 || conv.info.outHeight === 0 || conv.info.outWidth === 0) {
    return scope.zeros(filterShape);
  }
  const usedGrad =
    chooseMethod(rows, cols, conv, strategy) === 'im2col'
      ? im2colFilterGradient(scope, x, dy, rows, cols, conv)
      : convFilterGradient(scope, x, dy, rows, cols, conv);
  if (rows.taps.first === 0 && rows.taps.last === filterHeight - 1 && cols.taps.first === 0 && cols.taps.last === filterWidth - 1) {
    return usedGrad;
  }
  return scope.pad(usedGrad, [
    [rows.taps.first, filterHeight - 1 - rows.taps.last],
    [cols.taps.first, filterWidth - 1 - cols.taps.last],
    [0, 0],
    [0, 0],
  ]);
}

/**
 * Most values the patch matrix may hold under `auto` (64 MiB of float32): at 224×224 a ResNet's
 * first 3×3 stage would need close to a gigabyte of patches, where the convolution needs none.
 */
const MAX_PATCH_VALUES = 1 << 24;

function chooseMethod(
  rows: FilterGradAxisPlan,
  cols: FilterGradAxisPlan,
  conv: ResolvedConv2D,
  strategy: FilterGradStrategy,
): 'conv' | 'im2col' {
  if (strategy !== 'auto') return strategy;
  const { batchSize, inChannels, outChannels, outHeight, outWidth } = conv.info;
  // Measured at batch 128 (bench/wasm-kernel-profile.ts, CPU ms, patches against convolution):
  // 7×7/2 1→64 10 / 21, 1×1/2 64→128 2.1 / 5.5, 3×3/2 64→128 13 / 16, 3×3 128→128 25 / 28,
  // 3×3 32→64 43 / 52, but 3×3 64→64 22 / 20. Copying the patches costs about 1/co of the
  // product, while the convolution suffers when its output (ci·kh·kw rows) is short.
  const usedTaps = (rows.taps.last - rows.taps.first + 1) * (cols.taps.last - cols.taps.first + 1);
  if (inChannels * usedTaps * batchSize * outHeight * outWidth > MAX_PATCH_VALUES) return 'conv';
  return outChannels <= 64 && inChannels * usedTaps >= 512 ? 'conv' : 'im2col';
}

/**
 * dW = patches · dy: the patches of the window of x the used taps read, one column per output
 * position (`WasmKernelScope.patchColumns`), then one matrix product whose result is already HWIO.
 */
function im2colFilterGradient(
  scope: WasmKernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  rows: FilterGradAxisPlan,
  cols: FilterGradAxisPlan,
  conv: ResolvedConv2D,
): TensorInfo {
  const { batchSize, inChannels, outChannels, outHeight, outWidth, strideHeight, strideWidth } = conv.info;
  const usedHeight = rows.taps.last - rows.taps.first + 1;
  const usedWidth = cols.taps.last - cols.taps.first + 1;
  const window = paddedWindow(scope, x, rows, cols, conv);
  const channelsFirst =
    inChannels === 1 ? scope.reshape(window, [1, ...window.shape.slice(0, 3)]) : scope.transpose(window, [3, 0, 1, 2]);
  const patches = scope.patchColumns(channelsFirst, [usedHeight, usedWidth], [strideHeight, strideWidth], [outHeight, outWidth]);
  const product = scope.matMul(patches, scope.reshape(dy, [batchSize * outHeight * outWidth, outChannels]));
  return scope.reshape(product, [usedHeight, usedWidth, inChannels, outChannels]);
}

/** The window of x that the used taps read, zero-padded to exactly its length on both axes. */
function paddedWindow(
  scope: WasmKernelScope,
  x: TensorInfo,
  rows: FilterGradAxisPlan,
  cols: FilterGradAxisPlan,
  conv: ResolvedConv2D,
): TensorInfo {
  const sliced = windowSlice(scope, x, rows, cols, conv);
  const { input: r } = rows;
  const { input: c } = cols;
  if (r.padBefore === 0 && r.padAfter === 0 && c.padBefore === 0 && c.padAfter === 0) return sliced;
  return scope.pad(sliced, [
    [0, 0],
    [r.padBefore, r.padAfter],
    [c.padBefore, c.padAfter],
    [0, 0],
  ]);
}

/** The part of x inside the window (no padding added). */
function windowSlice(
  scope: WasmKernelScope,
  x: TensorInfo,
  rows: FilterGradAxisPlan,
  cols: FilterGradAxisPlan,
  conv: ResolvedConv2D,
): TensorInfo {
  const { batchSize, inChannels, inHeight, inWidth } = conv.info;
  if (readsWholeAxis(rows.input, inHeight) && readsWholeAxis(cols.input, inWidth)) return x;
  return scope.slice4d(
    x,
    [0, rows.input.sliceBegin, cols.input.sliceBegin, 0],
    [batchSize, rows.input.sliceEnd - rows.input.sliceBegin, cols.input.sliceEnd - cols.input.sliceBegin, inChannels],
  );
}

/** The batch-as-channels convolution over the window of x the used taps read. */
function convFilterGradient(
  scope: WasmKernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  rows: FilterGradAxisPlan,
  cols: FilterGradAxisPlan,
  conv: ResolvedConv2D,
): TensorInfo {
  const { outHeight, outWidth, strideHeight, strideWidth } = conv.info;
  const window = windowSlice(scope, x, rows, cols, conv);
  const input = scope.transpose(window, [3, 1, 2, 0]); // [ci, h, w, n]
  const filter = scope.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, co]
  const product = scope.conv2d(
    input,
    filter,
    1,
    [
      [0, 0],
      [rows.input.padBefore, rows.input.padAfter],
      [cols.input.padBefore, cols.input.padAfter],
      [0, 0],
    ],
    // With a single output row the dilation is irrelevant; 1 keeps XNNPACK on its plain path.
    [outHeight === 1 ? 1 : strideHeight, outWidth === 1 ? 1 : strideWidth],
  ); // [ci, kh', kw', co]
  return scope.transpose(product, [1, 2, 0, 3]);
}

