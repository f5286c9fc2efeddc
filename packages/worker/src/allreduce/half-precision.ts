/**
 * The 16-bit element formats a ring may send instead of float32, and the conversions the ring
 * does on them. Sums are always taken in float32; 16 bits exist only on the wire.
 *
 *   bf16  bfloat16: float32's sign and 8-bit exponent, 7 stored significand bits. Same range as
 *         float32, about 3 significant decimal digits.
 *   f16   IEEE 754 binary16: 5-bit exponent, 10 stored significand bits; normal values from
 *         2^-14 to 65504, subnormals down to 2^-24.
 *
 * Rounding, identical for both and done on the float32 bits (no float64 step in between):
 *   - finite values round to the nearest representable value, ties to even significand;
 *   - a finite value never becomes infinite: beyond the largest finite value (65504 for f16,
 *     about 3.39e38 for bf16) it saturates to that value, keeping its sign, so one outlier in a
 *     gradient clips instead of poisoning the sum with an infinity;
 *   - f16 keeps subnormals (no flush to zero): values below 2^-14 round to multiples of 2^-24,
 *     and those of at most 2^-25 in magnitude round to a zero of their sign;
 *   - ±Infinity stays ±Infinity, NaN stays NaN (quiet, sign kept), so a gradient that already
 *     overflowed is still seen as broken.
 * Decoding is exact: every 16-bit value is a float32 value.
 */
import type { WireFormat } from '@ringtrain/protocol';
import { addInto } from './add-into.ts';
import { HALF_BLOCK_ELEMENTS, createHalfKernels } from './half-simd.ts';
import type { HalfKernels } from './half-simd.ts';

/** The 16-bit formats. */
export type HalfFormat = Exclude<WireFormat, 'f32'>;

/** The bfloat16 bits of the float32 whose bits are `bits` (see the module comment). */
export function bf16FromFloat32Bits(bits: number): number {
  const magnitude = bits & 0x7fff_ffff;
  if (magnitude > 0x7f80_0000) return ((bits >>> 16) | 0x0040) & 0xffff;
  const rounded = ((bits >>> 0) + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  // Rounded up to infinity from a finite value: the largest finite value instead.
  if ((rounded & 0x7fff) === 0x7f80 && magnitude !== 0x7f80_0000) return (rounded & 0x8000) | 0x7f7f;
  return rounded;
}

/** The binary16 bits of the float32 whose bits are `bits` (see the module comment). */
export function f16FromFloat32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const magnitude = bits & 0x7fff_ffff;
  if (magnitude >= 0x7f80_0000) return sign | (magnitude === 0x7f80_0000 ? 0x7c00 : 0x7e00);
  // 65520 and beyond would round to infinity.
  if (magnitude >= 0x477f_f000) return sign | 0x7bff;
  if (magnitude >= 0x3880_0000) {
    // Normal: rebias the exponent (127 -> 15) and round away 13 significand bits.
    const rebiased = magnitude - 0x3800_0000;
    return sign | ((rebiased + 0x0fff + ((rebiased >>> 13) & 1)) >>> 13);
  }
  // 2^-25 and below: a zero (2^-25 itself is a tie, and zero is the even neighbour).
  if (magnitude <= 0x3300_0000) return sign;
  // Subnormal: the 24-bit significand scaled to units of 2^-24, rounded to nearest even.
  const shift = 126 - (magnitude >>> 23);
  const significand = (magnitude & 0x7f_ffff) | 0x80_0000;
  const kept = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (kept + (rest > half || (rest === half && (kept & 1) === 1) ? 1 : 0));
}

/** The float32 bits of the binary16 value `half`. */
function float32BitsOfF16(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const significand = half & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f80_0000 | (significand << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (significand << 13)) >>> 0;
  if (significand === 0) return sign >>> 0;
  // Subnormal: normalise.
  let shifted = significand;
  let biased = 113;
  while ((shifted & 0x400) === 0) {
    shifted <<= 1;
    biased--;
  }
  return (sign | (biased << 23) | ((shifted & 0x3ff) << 13)) >>> 0;
}

/** Every binary16 value's float32 bits, built on first use (256 KiB). */
let f16Table: Uint32Array | undefined;
function f16DecodeTable(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65_536);
    for (let half = 0; half < 65_536; half++) f16Table[half] = float32BitsOfF16(half);
  }
  return f16Table;
}

/** WebAssembly SIMD versions of the loops below, when this runtime has them. */
const kernels: HalfKernels | undefined = createHalfKernels();

/** Whether the bulk conversions run as WebAssembly SIMD (else as the plain loops here). */
export const simdHalfAvailable: boolean = kernels !== undefined;

/** Elements per block of the fused operations: the scratch stays in cache. */
const BLOCK_ELEMENTS = HALF_BLOCK_ELEMENTS;
const scratchFloats = new Float32Array(BLOCK_ELEMENTS);
const scratchBits = new Uint32Array(scratchFloats.buffer);

/** `out[i]` = the float32 bits of `source[start + i]`, for `count` elements. */
function decodeBits(format: HalfFormat, source: Uint16Array, start: number, count: number, out: Uint32Array): void {
  if (format === 'bf16') {
    for (let i = 0; i < count; i++) out[i] = (source[start + i] as number) << 16;
  } else {
    const table = f16DecodeTable();
    for (let i = 0; i < count; i++) out[i] = table[source[start + i] as number] as number;
  }
}

/** `out[start + i]` = the 16-bit encoding of the float32 bits `bits[i]`, for `count` elements. */
function encodeBits(format: HalfFormat, bits: Uint32Array, count: number, out: Uint16Array, start: number): void {
  if (format === 'bf16') {
    for (let i = 0; i < count; i++) out[start + i] = bf16FromFloat32Bits(bits[i] as number);
  } else {
    for (let i = 0; i < count; i++) out[start + i] = f16FromFloat32Bits(bits[i] as number);
  }
}

/** `out` = `source` rounded to `format`; both of `source.length` elements. */
export function encodeHalf(format: HalfFormat, source: Float32Array, out: Uint16Array): void {
  for (let start = 0; start < source.length; start += BLOCK_ELEMENTS) {
    const count = Math.min(BLOCK_ELEMENTS, source.length - start);
    if (kernels === undefined) {
      encodeBits(format, new Uint32Array(source.buffer, source.byteOffset + 4 * start, count), count, out, start);
      continue;
    }
    kernels.a.set(source.subarray(start, start + count));
    kernels.encode(format, count);
    out.set(kernels.output.subarray(0, count), start);
  }
}

/** `out` = the float32 values of `source`; both of `source.length` elements. */
export function decodeHalf(format: HalfFormat, source: Uint16Array, out: Float32Array): void {
  for (let start = 0; start < source.length; start += BLOCK_ELEMENTS) {
    const count = Math.min(BLOCK_ELEMENTS, source.length - start);
    if (kernels === undefined) {
      decodeBits(format, source, start, count, new Uint32Array(out.buffer, out.byteOffset + 4 * start, count));
      continue;
    }
    kernels.input.set(source.subarray(start, start + count));
    kernels.decode(format, kernels.input, count);
    out.set(kernels.a.subarray(0, count), start);
  }
}

/**
 * A middle hop of the reduce-scatter: `out[i]` = encode(decode(received[i]) + own[i]), the sum
 * rounded to float32 and then to `format`. `own` is left as it is.
 */
export function decodeAddEncode(format: HalfFormat, received: Uint16Array, own: Float32Array, out: Uint16Array): void {
  for (let start = 0; start < received.length; start += BLOCK_ELEMENTS) {
    const count = Math.min(BLOCK_ELEMENTS, received.length - start);
    if (kernels === undefined) {
      decodeBits(format, received, start, count, scratchBits);
      addInto(scratchFloats.subarray(0, count), own.subarray(start, start + count));
      encodeBits(format, scratchBits, count, out, start);
      continue;
    }
    kernels.input.set(received.subarray(start, start + count));
    kernels.decode(format, kernels.input, count);
    kernels.b.set(own.subarray(start, start + count));
    kernels.add(count);
    kernels.encode(format, count);
    out.set(kernels.output.subarray(0, count), start);
  }
}

/**
 * The last hop of the reduce-scatter, at the segment's owner: the float32 sum
 * decode(received[i]) + own[i], divided by `divisor` in float32 when it is not 1, is rounded to
 * `format` into `out[i]`, and `own[i]` becomes that rounded value, the one every rank ends with.
 */
export function decodeAddRound(format: HalfFormat, received: Uint16Array, own: Float32Array, divisor: number, out: Uint16Array): void {
  for (let start = 0; start < received.length; start += BLOCK_ELEMENTS) {
    const count = Math.min(BLOCK_ELEMENTS, received.length - start);
    if (kernels === undefined) {
      decodeBits(format, received, start, count, scratchBits);
      const block = scratchFloats.subarray(0, count);
      addInto(block, own.subarray(start, start + count));
      if (divisor !== 1) for (let i = 0; i < count; i++) block[i] = (block[i] as number) / divisor;
      encodeBits(format, scratchBits, count, out, start);
      decodeBits(format, out, start, count, new Uint32Array(own.buffer, own.byteOffset + 4 * start, count));
      continue;
    }
    kernels.input.set(received.subarray(start, start + count));
    kernels.decode(format, kernels.input, count);
    kernels.b.set(own.subarray(start, start + count));
    kernels.add(count);
    if (divisor !== 1) kernels.divide(count, divisor);
    kernels.encode(format, count);
    out.set(kernels.output.subarray(0, count), start);
    kernels.decode(format, kernels.output, count);
    own.set(kernels.a.subarray(0, count), start);
  }
}
