/**
 * `Conv2D` for the wasm backend that drops the filter taps which only ever read padding before
 * handing the convolution to the backend's own (XNNPACK) `Conv2D`. XNNPACK multiplies padding like
 * any other input: a 3×3 'same' convolution over a 1×1 image (the last stage of a ResNet at 28×28)
 * costs nine times its one useful tap, and a 3×3/2 over 2×2 more than twice. It also fixes the
 * original for paddings rounded up by `dimRoundingMode` (see `xnnpackAgrees`). Every other
 * convolution goes to the original kernel unchanged.
 */
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { axisWindow, readsWholeAxis, usedTapRange } from './conv-geometry.ts';
import { dilationPair, resolveConv2D } from './conv-info.ts';
import type { Conv2DPad, DimRoundingMode } from './conv-info.ts';
import { WasmKernelScope } from './wasm-kernel-scope.ts';

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: Conv2DPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: DimRoundingMode;
}

/** Wraps the backend's `Conv2D` kernel function `original`. */
export function createCroppingConv2DKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as Conv2DAttrs;
    const [dilationHeight, dilationWidth] = dilationPair(dilations);
    if ((dataFormat ?? 'NHWC') !== 'NHWC' || dilationHeight !== 1 || dilationWidth !== 1) return original(args);
    const conv = resolveConv2D('Conv2D', x.shape, filter.shape, strides, pad, dataFormat, dimRoundingMode);
    const rows = usedTapRange(conv.rows);
    const cols = usedTapRange(conv.cols);
    const { batchSize, inChannels, outHeight, outWidth, filterHeight, filterWidth } = conv.info;
    if (rows === null || cols === null) {
      return WasmKernelScope.run(args.backend as KernelBackend, (scope) => scope.zeros(conv.info.outShape));
    }
    const usedHeight = rows.last - rows.first + 1;
    const usedWidth = cols.last - cols.first + 1;
    const cropped = usedHeight !== filterHeight || usedWidth !== filterWidth;
    if (!cropped && xnnpackAgrees(conv.info)) return original(args);

    return WasmKernelScope.run(args.backend as KernelBackend, (scope) => {
      const used = cropped ? scope.selectTaps(filter, range(rows.first, rows.last), range(cols.first, cols.last)) : filter;
      const rowWindow = axisWindow(rows.first - conv.rows.padBefore, (outHeight - 1) * conv.rows.stride + usedHeight, conv.rows.inSize);
      const colWindow = axisWindow(cols.first - conv.cols.padBefore, (outWidth - 1) * conv.cols.stride + usedWidth, conv.cols.inSize);
      const window =
        readsWholeAxis(rowWindow, conv.rows.inSize) && readsWholeAxis(colWindow, conv.cols.inSize)
          ? x
          : scope.slice4d(
              x,
              [0, rowWindow.sliceBegin, colWindow.sliceBegin, 0],
              [batchSize, rowWindow.sliceEnd - rowWindow.sliceBegin, colWindow.sliceEnd - colWindow.sliceBegin, inChannels],
            );
      const attrs: NamedAttrMap = {
        strides: [conv.rows.stride, conv.cols.stride],
        pad: [
          [0, 0],
          [rowWindow.padBefore, rowWindow.padAfter],
          [colWindow.padBefore, colWindow.padAfter],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      };
      return original({ inputs: { x: window, filter: used }, backend: args.backend, attrs }) as TensorInfo;
    });
  };
}

/**
 * Whether XNNPACK, which sizes the output from the padding as floor((in + pads − k) / s) + 1,
 * produces the output tfjs allocated. It does for 'same' (passed as TensorFlow SAME padding) and
 * 'valid', not for a numeric padding with `dimRoundingMode` 'ceil' or 'round' that rounds up:
 * tfjs 4.22's own wasm Conv2D then returns wrong values. Those go through the explicit window.
 */
function xnnpackAgrees(info: backend_util.Conv2DInfo): boolean {
  const { padInfo } = info;
  if (padInfo.type === 'SAME' || padInfo.type === 'VALID') return true;
  const rows = Math.floor((info.inHeight + padInfo.top + padInfo.bottom - info.filterHeight) / info.strideHeight) + 1;
  const cols = Math.floor((info.inWidth + padInfo.left + padInfo.right - info.filterWidth) / info.strideWidth) + 1;
  return rows === info.outHeight && cols === info.outWidth;
}

/** The integers `first..last`. */
function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
