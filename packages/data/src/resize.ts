/**
 * Bilinear resizing with half-pixel centres (`align_corners=False` in PyTorch,
 * `tf.image.resize(..., 'bilinear')` and `tf.image.resizeBilinear(x, size, false, true)` in
 * TF.js): output pixel i samples the input at `(i + 0.5)·in/out − 0.5`, clamped to the edge.
 * Bilinear interpolation is separable, so an image is resized along its rows, then its columns,
 * with the taps and weights of each axis computed once per pair of sizes.
 */

/** For each output coordinate along one axis: the two input taps and the weight of the second. */
export interface ResizeAxis {
  lower: Int32Array;
  upper: Int32Array;
  upperWeight: Float32Array;
}

/** The taps and weights that resize one axis from `inSize` to `outSize` pixels. */
export function bilinearAxis(inSize: number, outSize: number): ResizeAxis {
  const lower = new Int32Array(outSize);
  const upper = new Int32Array(outSize);
  const upperWeight = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const source = Math.max(0, (i + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(source), inSize - 1);
    lower[i] = lo;
    upper[i] = Math.min(lo + 1, inSize - 1);
    upperWeight[i] = source - lo;
  }
  return { lower, upper, upperWeight };
}

/** Precomputed weights for resizing `inRows`×`inCols` images to `outRows`×`outCols`. */
export interface BilinearResizer {
  inRows: number;
  inCols: number;
  outRows: number;
  outCols: number;
  rowAxis: ResizeAxis;
  colAxis: ResizeAxis;
  /** Scratch of `inRows·outCols` floats for the first pass. */
  scratch: Float32Array;
}

export function bilinearResizer(inRows: number, inCols: number, outRows: number, outCols: number): BilinearResizer {
  return {
    inRows,
    inCols,
    outRows,
    outCols,
    rowAxis: bilinearAxis(inRows, outRows),
    colAxis: bilinearAxis(inCols, outCols),
    scratch: new Float32Array(inRows * outCols),
  };
}

/**
 * Resizes one single-channel image `src` (`inRows·inCols` floats, row-major) into `dst`
 * (`outRows·outCols` floats) with the resizer's weights.
 */
export function resizeBilinear(resizer: BilinearResizer, src: Float32Array, dst: Float32Array): void {
  const { inRows, inCols, outRows, outCols, rowAxis, colAxis, scratch } = resizer;
  // Pass 1: along each input row, to outCols columns.
  for (let y = 0; y < inRows; y++) {
    const srcRow = y * inCols;
    const tmpRow = y * outCols;
    for (let x = 0; x < outCols; x++) {
      const a = src[srcRow + (colAxis.lower[x] as number)] as number;
      const b = src[srcRow + (colAxis.upper[x] as number)] as number;
      scratch[tmpRow + x] = a + (b - a) * (colAxis.upperWeight[x] as number);
    }
  }
  // Pass 2: down each column, to outRows rows.
  for (let y = 0; y < outRows; y++) {
    const top = (rowAxis.lower[y] as number) * outCols;
    const bottom = (rowAxis.upper[y] as number) * outCols;
    const w = rowAxis.upperWeight[y] as number;
    const dstRow = y * outCols;
    for (let x = 0; x < outCols; x++) {
      const a = scratch[top + x] as number;
      const b = scratch[bottom + x] as number;
      dst[dstRow + x] = a + (b - a) * w;
    }
  }
}
