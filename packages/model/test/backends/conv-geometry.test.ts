import { describe, expect, it } from 'vitest';

import { axisWindow, planFilterGradAxis, planInputGradAxis, usedTapRange } from '../../src/backends/conv-geometry.ts';
import type { ConvAxis } from '../../src/backends/conv-geometry.ts';

/** The axes of 'same' convolutions, TensorFlow-style (extra padding at the end). */
function sameAxis(inSize: number, filterSize: number, stride: number): ConvAxis {
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max(0, (outSize - 1) * stride + filterSize - inSize);
  return { inSize, outSize, filterSize, stride, padBefore: Math.floor(total / 2) };
}

/** Every axis with sizes up to 9, filters up to 7, strides up to 3, paddings up to 4 and any output length reachable. */
function allAxes(): ConvAxis[] {
  const axes: ConvAxis[] = [];
  for (let inSize = 1; inSize <= 9; inSize++)
    for (let filterSize = 1; filterSize <= 7; filterSize++)
      for (let stride = 1; stride <= 3; stride++)
        for (let padBefore = 0; padBefore <= 4; padBefore++)
          for (let outSize = 1; outSize <= Math.ceil((inSize + 2 * padBefore) / stride) + 1; outSize++)
            axes.push({ inSize, outSize, filterSize, stride, padBefore });
  return axes;
}

/** 1-D reference sums: y[o] = Σ_k x[o·s + k − p]·w[k]. */
function directInputGrad(axis: ConvAxis, dy: number[], w: number[]): number[] {
  const dx = new Array<number>(axis.inSize).fill(0);
  for (let o = 0; o < axis.outSize; o++)
    for (let k = 0; k < axis.filterSize; k++) {
      const i = o * axis.stride + k - axis.padBefore;
      if (i >= 0 && i < axis.inSize) dx[i]! += dy[o]! * w[k]!;
    }
  return dx;
}

function directFilterGrad(axis: ConvAxis, x: number[], dy: number[]): number[] {
  const dw = new Array<number>(axis.filterSize).fill(0);
  for (let o = 0; o < axis.outSize; o++)
    for (let k = 0; k < axis.filterSize; k++) {
      const i = o * axis.stride + k - axis.padBefore;
      if (i >= 0 && i < axis.inSize) dw[k]! += x[i]! * dy[o]!;
    }
  return dw;
}

/** Reads a window of `values`, zeros outside. */
function readWindow(values: number[], window: ReturnType<typeof axisWindow>): number[] {
  return [
    ...new Array<number>(window.padBefore).fill(0),
    ...values.slice(window.sliceBegin, window.sliceEnd),
    ...new Array<number>(window.padAfter).fill(0),
  ];
}

/** Small integers, so that the sums are exact. */
function integers(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => ((i * 7 + seed * 13) % 11) - 5);
}

describe('usedTapRange', () => {
  it('keeps only the centre tap of a 3×3 same convolution over a 1×1 image', () => {
    expect(usedTapRange(sameAxis(1, 3, 1))).toEqual({ first: 1, last: 1 });
  });

  it('drops the last tap of a 3×3/2 same convolution over a 2×2 image', () => {
    expect(usedTapRange(sameAxis(2, 3, 2))).toEqual({ first: 0, last: 1 });
  });

  it('keeps every tap of a 3×3 same convolution over a 7×7 image', () => {
    expect(usedTapRange(sameAxis(7, 3, 1))).toEqual({ first: 0, last: 2 });
  });

  it('is null when every tap reads padding', () => {
    // One output position, padding 4 before a 1-wide input, a 3-tap filter: reads −4..−2.
    expect(usedTapRange({ inSize: 1, outSize: 1, filterSize: 3, stride: 1, padBefore: 4 })).toBeNull();
  });
});

describe('axisWindow', () => {
  it('pads a window that hangs over both ends', () => {
    expect(axisWindow(-2, 9, 5)).toEqual({ sliceBegin: 0, sliceEnd: 5, padBefore: 2, padAfter: 2 });
  });

  it('slices a window inside the axis', () => {
    expect(axisWindow(1, 3, 5)).toEqual({ sliceBegin: 1, sliceEnd: 4, padBefore: 0, padAfter: 0 });
  });

  it('makes a window that misses the axis all padding', () => {
    expect(axisWindow(7, 3, 5)).toEqual({ sliceBegin: 0, sliceEnd: 0, padBefore: 3, padAfter: 0 });
  });
});

describe('planFilterGradAxis', () => {
  it.each([0, 1, 2])('reproduces the direct sum on every small axis (seed %i)', (seed) => {
    for (const axis of allAxes()) {
      const x = integers(axis.inSize, seed);
      const dy = integers(axis.outSize, seed + 1);
      const expected = directFilterGrad(axis, x, dy);
      const plan = planFilterGradAxis(axis);
      const actual = new Array<number>(axis.filterSize).fill(0);
      if (plan !== null) {
        const window = readWindow(x, plan.input);
        expect(window.length).toBe((axis.outSize - 1) * axis.stride + plan.taps.last - plan.taps.first + 1);
        // The dilated correlation the kernel runs: dW[first + t] = Σ_o window[t + o·s]·dy[o].
        for (let t = 0; t <= plan.taps.last - plan.taps.first; t++)
          for (let o = 0; o < axis.outSize; o++) actual[plan.taps.first + t]! += window[t + o * axis.stride]! * dy[o]!;
      }
      expect(actual, JSON.stringify(axis)).toEqual(expected);
    }
  });
});

describe('planInputGradAxis', () => {
  it.each([0, 1, 2])('reproduces the direct sum on every small axis (seed %i)', (seed) => {
    for (const axis of allAxes()) {
      const dy = integers(axis.outSize, seed);
      const w = integers(axis.filterSize, seed + 2);
      const expected = directInputGrad(axis, dy, w);
      const plan = planInputGradAxis(axis);
      const actual = new Array<number>(axis.inSize).fill(0);
      if (plan !== null) {
        expect(plan.phases).toHaveLength(axis.stride);
        for (const phase of plan.phases) {
          if (phase.tapCount === 0) continue;
          const window = readWindow(dy, phase.dy);
          expect(window.length).toBe(plan.positions + phase.tapCount - 1);
          // The stride-1 correlation the kernel runs, with the reversed sub-filter.
          for (let i = 0; i < plan.positions; i++) {
            const y = i * axis.stride + phase.phase;
            if (y >= axis.inSize) break;
            for (let u = 0; u < phase.tapCount; u++) {
              const tap = plan.taps.first + phase.firstTap + axis.stride * (phase.tapCount - 1 - u);
              actual[y]! += window[i + u]! * w[tap]!;
            }
          }
        }
      }
      expect(actual, JSON.stringify(axis)).toEqual(expected);
    }
  });
});
