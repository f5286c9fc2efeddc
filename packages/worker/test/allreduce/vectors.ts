/** Deterministic per-rank vectors and the exact sums they should reduce to. */

/** A vector of `length` values in [-1, 1) drawn from a small seeded generator (mulberry32). */
export function rankVector(length: number, rank: number, seed = 1): Float32Array {
  let state = (seed * 0x9e3779b1 + rank * 0x85ebca6b) >>> 0;
  const vector = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    vector[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return vector;
}

/** The element-wise sum in float64 and the sum of magnitudes (the scale of float32 rounding). */
export function exactSum(vectors: Float32Array[]): { sum: Float64Array; magnitude: Float64Array } {
  const length = vectors[0]?.length ?? 0;
  const sum = new Float64Array(length);
  const magnitude = new Float64Array(length);
  for (const vector of vectors) {
    for (let i = 0; i < length; i++) {
      sum[i] = (sum[i] as number) + (vector[i] as number);
      magnitude[i] = (magnitude[i] as number) + Math.abs(vector[i] as number);
    }
  }
  return { sum, magnitude };
}

/**
 * The index of the first element of `actual` farther than 1e-6 relative from `expected`, or -1.
 * "Relative" is to the sum of magnitudes: the error of any float32 summation order is bounded by
 * a multiple of it, while the sum itself may cancel to almost nothing.
 */
export function firstOutOfTolerance(actual: Float32Array, expected: Float64Array, magnitude: Float64Array, scale = 1): number {
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs((actual[i] as number) - (expected[i] as number) * scale);
    if (error > 1e-6 * (magnitude[i] as number) * scale + 1e-30) return i;
  }
  return -1;
}

/** Whether two vectors hold the same bits (NaN payloads and signed zeros included). */
export function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
