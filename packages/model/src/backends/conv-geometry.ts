/**
 * Index arithmetic of a 2-D convolution along one spatial axis, shared by the wasm convolution
 * kernels. Pure functions of sizes only, so they are tested without any backend.
 *
 * Conventions: output position `o` with filter tap `k` reads input position `o·stride + k − padBefore`;
 * reads outside `[0, inSize)` see zeros. `padBefore` is what `backend_util.computeConv2DInfo`
 * reports (`padInfo.top` / `padInfo.left`), which already resolves 'same' (TensorFlow's asymmetric
 * split, the extra row at the end), 'valid', explicit paddings and `dimRoundingMode`. The padding
 * after the input is never needed: it is implied by `outSize`.
 */

/** One spatial axis of a convolution, as `computeConv2DInfo` resolves it (dilation 1). */
export interface ConvAxis {
  readonly inSize: number;
  readonly outSize: number;
  readonly filterSize: number;
  readonly stride: number;
  readonly padBefore: number;
}

/** An inclusive range of filter taps. */
export interface TapRange {
  readonly first: number;
  readonly last: number;
}

/**
 * The taps that read at least one real input value for some output position, as the smallest
 * range holding them all; `null` when every tap reads only padding. Taps outside the range get a
 * zero gradient and contribute nothing to the output, so every kernel may skip them. This is what
 * makes a 3×3 'same' convolution over a 1×1 image cost one tap instead of nine.
 */
export function usedTapRange(axis: ConvAxis): TapRange | null {
  let first = -1;
  let last = -1;
  for (let k = 0; k < axis.filterSize; k++) {
    // Output positions whose read of tap k lands in [0, inSize).
    const lowest = Math.max(0, Math.ceil((axis.padBefore - k) / axis.stride));
    const highest = Math.min(axis.outSize - 1, Math.floor((axis.inSize - 1 + axis.padBefore - k) / axis.stride));
    if (lowest <= highest) {
      if (first < 0) first = k;
      last = k;
    }
  }
  return first < 0 ? null : { first, last };
}

/**
 * A window of an input axis: the part `[sliceBegin, sliceEnd)` that is read, plus the zeros to add
 * before and after it so that its length is exactly what the consumer needs.
 */
export interface AxisWindow {
  readonly sliceBegin: number;
  readonly sliceEnd: number;
  readonly padBefore: number;
  readonly padAfter: number;
}

/**
 * The window `[begin, begin + length)` of an axis of `size` values, clipped, with zero padding for
 * the rest. A window that misses the axis entirely is all padding (`sliceBegin === sliceEnd`).
 */
export function axisWindow(begin: number, length: number, size: number): AxisWindow {
  const end = begin + length;
  const sliceBegin = Math.max(begin, 0);
  const sliceEnd = Math.min(end, size);
  if (sliceEnd <= sliceBegin) return { sliceBegin: 0, sliceEnd: 0, padBefore: length, padAfter: 0 };
  return { sliceBegin, sliceEnd, padBefore: sliceBegin - begin, padAfter: end - sliceEnd };
}

/** True when the window reads nothing of the axis. */
export function isEmptyWindow(window: AxisWindow): boolean {
  return window.sliceEnd <= window.sliceBegin;
}

/**
 * The filter gradient along one axis as a stride-1 correlation of the input with the output
 * gradient, the stride becoming a dilation:
 *   dW[k] = Σ_o x[o·stride + k − padBefore] · dy[o]
 * Only the used taps are computed; `input` is the window of x they read (length
 * `(outSize − 1)·stride + taps.last − taps.first + 1`).
 */
export interface FilterGradAxisPlan {
  readonly taps: TapRange;
  readonly input: AxisWindow;
}

export function planFilterGradAxis(axis: ConvAxis): FilterGradAxisPlan | null {
  const taps = usedTapRange(axis);
  if (taps === null) return null;
  const begin = taps.first - axis.padBefore;
  const length = (axis.outSize - 1) * axis.stride + taps.last - taps.first + 1;
  return { taps, input: axisWindow(begin, length, axis.inSize) };
}

/**
 * One phase of the input gradient along one axis. With stride s the input positions split into s
 * phases `i·s + phase`; each phase only meets the taps `k ≡ phase + padBefore (mod s)`, and over
 * those taps it is a plain stride-1 correlation of the output gradient with the reversed sub-filter:
 *   dx[i·s + phase] = Σ_u dyWindow[i + u] · W[firstTap + s·(tapCount − 1 − u)]
 * Splitting by phase computes every product once (no zeros inserted between dy values).
 */
export interface InputGradAxisPhase {
  readonly phase: number;
  /** Taps of this phase, in the filter cropped to the used taps: `firstTap + s·t`, `t < tapCount`. */
  readonly firstTap: number;
  readonly tapCount: number;
  /** The window of dy read, of length `positions + tapCount − 1`. */
  readonly dy: AxisWindow;
}

export interface InputGradAxisPlan {
  /** Used taps of the original filter; the phases index into the filter cropped to them. */
  readonly taps: TapRange;
  /** Positions computed per phase, `ceil(inSize / stride)`; the interleaved result is cropped to inSize. */
  readonly positions: number;
  readonly phases: readonly InputGradAxisPhase[];
}

export function planInputGradAxis(axis: ConvAxis): InputGradAxisPlan | null {
  const taps = usedTapRange(axis);
  if (taps === null) return null;
  const s = axis.stride;
  const croppedSize = taps.last - taps.first + 1;
  const padBefore = axis.padBefore - taps.first;
  const positions = Math.ceil(axis.inSize / s);
  const phases: InputGradAxisPhase[] = [];
  for (let phase = 0; phase < s; phase++) {
    const firstTap = (phase + padBefore) % s;
    const tapCount = firstTap < croppedSize ? Math.ceil((croppedSize - firstTap) / s) : 0;
    // dx[i·s + phase] = Σ_t dy[i + shift − t] · W[firstTap + s·t], shift = (phase + padBefore − firstTap) / s.
    const shift = (phase + padBefore - firstTap) / s;
    const begin = shift - tapCount + 1;
    phases.push({ phase, firstTap, tapCount, dy: axisWindow(begin, positions + tapCount - 1, axis.outSize) });
  }
  return { taps, positions, phases };
}

/** True when the window reads the whole axis (whatever padding it adds), so nothing needs slicing. */
export function readsWholeAxis(window: AxisWindow, size: number): boolean {
  return window.sliceBegin === 0 && window.sliceEnd === size;
}
