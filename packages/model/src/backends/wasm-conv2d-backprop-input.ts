/**
 * A faster `Conv2DBackpropInput` for the wasm backend. The one tfjs 4.22 ships is a scalar C++
 * loop running at 2–7 GFLOP/s where the backend's XNNPACK `Conv2D` runs at 20–30; at ResNet-18
 * shapes it was the largest single cost of a training step (see `bench/wasm-kernel-profile.ts`).
 *
 * The input gradient of a stride-s convolution, split by the phase of the input position
 * (`y = i·s + phase` along each axis), is a stride-1 convolution of dy with a reversed,
 * channel-transposed sub-filter holding the taps of that phase (`conv-geometry.ts`,
 * `planInputGradAxis`). Stride 1 is one phase; stride 2 is four, each a quarter of the taps, so no
 * product with an inserted zero is ever computed. The phases are interleaved back in one pass of
 * contiguous copies.
 */
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { isEmptyWindow, planInputGradAxis, readsWholeAxis } from './conv-geometry.ts';
import type { InputGradAxisPhase, InputGradAxisPlan } from './conv-geometry.ts';
import { assertFloat32, resolveConv2D } from './conv-info.ts';
import type { Conv2DPad, DimRoundingMode, ResolvedConv2D } from './conv-info.ts';
import { WasmKernelScope } from './wasm-kernel-scope.ts';
import type { Shape4 } from './wasm-kernel-scope.ts';

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: Conv2DPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: DimRoundingMode;
  inputShape: [number, number, number, number];
}

export const conv2DBackpropInputKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  assertFloat32('Conv2DBackpropInput', 'dy', dy);
  assertFloat32('Conv2DBackpropInput', 'filter', filter);
  const conv = resolveConv2D('Conv2DBackpropInput', inputShape, filter.shape, strides, pad, dataFormat, dimRoundingMode);
  return WasmKernelScope.run(backend as KernelBackend, (scope) => {
    const dyNhwc = conv.channelsFirst ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
    const dx = inputGradient(scope, dyNhwc, filter, conv);
    return conv.channelsFirst ? scope.transpose(dx, [0, 3, 1, 2]) : dx;
  });
};

export const conv2DBackpropInputKernelConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputKernel,
};

function inputGradient(scope: WasmKernelScope, dy: TensorInfo, filter: TensorInfo, conv: ResolvedConv2D): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels } = conv.info;
  const dxShape: Shape4 = [batchSize, inHeight, inWidth, inChannels];
  const rows = planInputGradAxis(conv.rows);
  const cols = planInputGradAxis(conv.cols);
  if (rows === null || cols === null || batchSize === 0 || conv.info.outHeight === 0 || conv.info.outWidth === 0) {
    return scope.zeros(dxShape);
  }
  const phases = rows.phases.map((rowPhase) =>
    cols.phases.map((colPhase) => phaseGradient(scope, dy, filter, rowPhase, colPhase, rows, cols, conv)),
  );
  const only = phases.length === 1 && phases[0]?.length === 1 ? phases[0][0] : undefined;
  if (only !== undefined && only !== null && rows.positions === inHeight && cols.positions === inWidth) return only;
  return scope.interleave(phases, dxShape);
}

/** The taps `first + s·t` of one phase, last first (the reversed sub-filter), in original filter indices. */
function reversedPhaseTaps(plan: InputGradAxisPlan, phase: InputGradAxisPhase, stride: number): number[] {
  return Array.from({ length: phase.tapCount }, (_, u) => plan.taps.first + phase.firstTap + stride * (phase.tapCount - 1 - u));
}

/** One phase of dx, `[n, positions, positions, ci]`, or `null` when it is all zeros. */
function phaseGradient(
  scope: WasmKernelScope,
  dy: TensorInfo,
  filter: TensorInfo,
  rowPhase: InputGradAxisPhase,
  colPhase: InputGradAxisPhase,
  rows: InputGradAxisPlan,
  cols: InputGradAxisPlan,
  conv: ResolvedConv2D,
): TensorInfo | null {
  const { batchSize, outChannels, outHeight, outWidth } = conv.info;
  if (rowPhase.tapCount === 0 || colPhase.tapCount === 0 || isEmptyWindow(rowPhase.dy) || isEmptyWindow(colPhase.dy)) {
    return null;
  }
  // subFilter[u, v, co, ci] = filter[reversed row taps[u], reversed col taps[v], ci, co]
  const taps = scope.selectTaps(
    filter,
    reversedPhaseTaps(rows, rowPhase, conv.rows.stride),
    reversedPhaseTaps(cols, colPhase, conv.cols.stride),
  );
  const subFilter = scope.transpose(taps, [0, 1, 3, 2]);
  const window =
    readsWholeAxis(rowPhase.dy, outHeight) && readsWholeAxis(colPhase.dy, outWidth)
      ? dy
      : scope.slice4d(
          dy,
          [0, rowPhase.dy.sliceBegin, colPhase.dy.sliceBegin, 0],
          [batchSize, rowPhase.dy.sliceEnd - rowPhase.dy.sliceBegin, colPhase.dy.sliceEnd - colPhase.dy.sliceBegin, outChannels],
        );
  return scope.conv2d(window, subFilter, 1, [
    [0, 0],
    [rowPhase.dy.padBefore, rowPhase.dy.padAfter],
    [colPhase.dy.padBefore, colPhase.dy.padAfter],
    [0, 0],
  ]);
}
