/**
 * Reference implementations for the 16-bit wire formats, written from their definitions with
 * float64 arithmetic and plain loops, independent of the bit manipulation in `half-precision.ts`
 * and of the ring's code.
 */
import type { WireFormat } from '../../src/allreduce/index.ts';

type Half = Exclude<WireFormat, 'f32'>;

const FORMATS: Record<Half, { significandBits: number; minExponent: number; max: number }> = {
  bf16: { significandBits: 8, minExponent: -126, max: (2 - 2 ** -7) * 2 ** 127 },
  f16: { significandBits: 11, minExponent: -14, max: 65_504 },
};

/**
 * `x` (a float32 value) rounded to the nearest value of `format`, ties to even, finite values
 * beyond the largest finite one saturating to it, infinities and NaN unchanged.
 */
export function roundToFormat(x: number, format: Half): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const { significandBits, minExponent, max } = FORMATS[format];
  const magnitude = Math.abs(x);
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  else if (2 ** (exponent + 1) <= magnitude) exponent++;
  const unit = 2 ** (Math.max(exponent, minExponent) - (significandBits - 1));
  const scaled = magnitude / unit;
  const whole = Math.floor(scaled);
  const rest = scaled - whole;
  const units = rest > 0.5 || (rest === 0.5 && whole % 2 === 1) ? whole + 1 : whole;
  const rounded = Math.min(units * unit, max);
  return x < 0 ? -rounded : rounded;
}

/**
 * What every rank should hold after a ring all-reduce of `inputs` with `format` on the wire, as
 * the ring documents it: buckets of maxBucketBytes / 4 elements, each cut into N segments whose
 * lengths differ by at most one; segment s summed in the order s, s+1, ..., s-1, in float32,
 * each partial sum rounded to the format before it travels on, and the final sum (divided by N
 * with `average`) rounded once more.
 */
export function referenceRingAllReduce(inputs: Float32Array[], maxBucketBytes: number, format: Half, average: boolean): Float32Array {
  const n = inputs.length;
  const length = inputs[0]?.length ?? 0;
  const out = new Float32Array(length);
  if (n === 1) return (inputs[0] as Float32Array).slice();
  const bucketElements = Math.floor(maxBucketBytes / 4);
  for (let bucketStart = 0; bucketStart < length; bucketStart += bucketElements) {
    const bucketLength = Math.min(bucketElements, length - bucketStart);
    let start = bucketStart;
    for (let s = 0; s < n; s++) {
      const segmentLength = Math.floor(bucketLength / n) + (s < bucketLength % n ? 1 : 0);
      for (let i = start; i < start + segmentLength; i++) {
        let partial = roundToFormat((inputs[s] as Float32Array)[i] as number, format);
        for (let k = 1; k < n; k++) {
          let sum = Math.fround(partial + ((inputs[(s + k) % n] as Float32Array)[i] as number));
          if (k < n - 1) {
            partial = roundToFormat(sum, format);
          } else {
            if (average) sum = Math.fround(sum / n);
            out[i] = roundToFormat(sum, format);
          }
        }
      }
      start += segmentLength;
    }
  }
  return out;
}
