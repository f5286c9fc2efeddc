import { describe, expect, it } from 'vitest';
import { bf16FromFloat32Bits, decodeHalf, encodeHalf, f16FromFloat32Bits, simdHalfAvailable } from '../../src/allreduce/half-precision.ts';
import { roundToFormat } from './half-reference.ts';
import { rankVector } from './vectors.ts';

const formats = ['bf16', 'f16'] as const;

/** float32 values of every kind: random bit patterns (all exponents), and the edges of both formats. */
function probeValues(): Float32Array {
  const bits = new Uint32Array(200_000);
  let state = 12345;
  for (let i = 0; i < bits.length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    bits[i] = (state ^ (state >>> 13) ^ Math.imul(i, 0x9e37_79b1)) >>> 0;
  }
  const values = new Float32Array(bits.buffer);
  const edges = [
    0, -0, 1, -1, 65_504, 65_505, 65_519.99, 65_520, 65_536, 1e6, -1e6, 3.4e38, -3.4e38, 3.3895e38, 3.3962e38,
    2 ** -14, 2 ** -14 * 0.999, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 1.5 * 2 ** -24, 2 ** -126, 2 ** -133, 2 ** -149,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity,
  ];
  const all = new Float32Array(values.length + edges.length * 2);
  all.set(values);
  edges.forEach((edge, i) => {
    all[values.length + 2 * i] = edge;
    all[values.length + 2 * i + 1] = -edge;
  });
  return all;
}

describe('16-bit rounding', () => {
  it('runs as WebAssembly SIMD on this Node', () => {
    expect(simdHalfAvailable).toBe(true);
  });

  it.each(formats)('%s: the plain-code encoder, the fallback without SIMD, agrees with the SIMD one on every kind of float32', (format) => {
    const values = probeValues();
    const encoded = new Uint16Array(values.length);
    encodeHalf(format, values, encoded);
    const bits = new Uint32Array(values.buffer);
    const scalar = format === 'bf16' ? bf16FromFloat32Bits : f16FromFloat32Bits;
    const wrong: string[] = [];
    for (let i = 0; i < bits.length && wrong.length < 5; i++) {
      if (scalar(bits[i] as number) !== encoded[i]) wrong.push(`0x${(bits[i] as number).toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it.each(formats)('%s rounds every kind of float32 to the nearest value, ties to even, as the reference does', (format) => {
    const values = probeValues();
    const encoded = new Uint16Array(values.length);
    encodeHalf(format, values, encoded);
    const decoded = new Float32Array(values.length);
    decodeHalf(format, encoded, decoded);
    const wrong: string[] = [];
    for (let i = 0; i < values.length && wrong.length < 5; i++) {
      const x = values[i] as number;
      const expected = Math.fround(roundToFormat(x, format));
      const got = decoded[i] as number;
      if (Number.isNaN(x) ? !Number.isNaN(got) : !Object.is(got, expected)) wrong.push(`${x} -> ${got}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('saturates finite f16 values beyond 65504 instead of making them infinite', () => {
    expect(f16FromFloat32Bits(bitsOf(65_519))).toBe(0x7bff);
    expect(f16FromFloat32Bits(bitsOf(65_520))).toBe(0x7bff);
    expect(f16FromFloat32Bits(bitsOf(1e30))).toBe(0x7bff);
    expect(f16FromFloat32Bits(bitsOf(-3.4e38))).toBe(0xfbff);
  });

  it('saturates finite bf16 values that would round to infinity', () => {
    expect(bf16FromFloat32Bits(0x7f7f_ffff)).toBe(0x7f7f);
    expect(bf16FromFloat32Bits(0xff7f_ffff)).toBe(0xff7f);
  });

  it.each(formats)('%s keeps infinities and signed zeros, and NaN stays NaN', (format) => {
    const values = Float32Array.of(Infinity, -Infinity, 0, -0, NaN);
    const encoded = new Uint16Array(values.length);
    encodeHalf(format, values, encoded);
    const decoded = new Float32Array(values.length);
    decodeHalf(format, encoded, decoded);
    expect(Array.from(decoded.subarray(0, 4))).toEqual([Infinity, -Infinity, 0, -0]);
    expect(Object.is(decoded[3], -0)).toBe(true);
    expect(Number.isNaN(decoded[4])).toBe(true);
  });

  it('keeps f16 subnormals: multiples of 2^-24, with 2^-25 and below rounding to zero', () => {
    expect(f16FromFloat32Bits(bitsOf(2 ** -24))).toBe(0x0001);
    expect(f16FromFloat32Bits(bitsOf(2 ** -25))).toBe(0x0000);
    expect(f16FromFloat32Bits(bitsOf(-(2 ** -25) * 1.01))).toBe(0x8001);
    expect(f16FromFloat32Bits(bitsOf(3 * 2 ** -25))).toBe(0x0002);
    expect(f16FromFloat32Bits(bitsOf(1023 * 2 ** -24))).toBe(0x03ff);
    expect(f16FromFloat32Bits(bitsOf(2 ** -14 - 2 ** -26))).toBe(0x0400);
  });

  it.each(formats)('%s decodes every one of the 65536 values exactly', (format) => {
    const all = Uint16Array.from({ length: 65_536 }, (_, i) => i);
    const decoded = new Float32Array(all.length);
    decodeHalf(format, all, decoded);
    const wrong: number[] = [];
    for (let h = 0; h < 65_536 && wrong.length < 5; h++) {
      const expected = valueOf(h, format);
      const got = decoded[h] as number;
      if (Number.isNaN(expected) ? !Number.isNaN(got) : !Object.is(got, expected)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it.each(formats)('%s encodes a decoded value back to the same bits', (format) => {
    const values = rankVector(10_000, 0, 3).map((x) => x * 100);
    const once = new Uint16Array(values.length);
    encodeHalf(format, values, once);
    const decoded = new Float32Array(values.length);
    decodeHalf(format, once, decoded);
    const twice = new Uint16Array(values.length);
    encodeHalf(format, decoded, twice);
    expect(twice).toEqual(once);
  });
});

function bitsOf(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0] as number;
}

/** The value of 16-bit pattern `h`, from the format's definition. */
function valueOf(h: number, format: 'bf16' | 'f16'): number {
  const [exponentBits, significandBits] = format === 'bf16' ? [8, 7] : [5, 10];
  const bias = 2 ** (exponentBits - 1) - 1;
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> significandBits) & (2 ** exponentBits - 1);
  const significand = h & (2 ** significandBits - 1);
  if (exponent === 2 ** exponentBits - 1) return significand === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * significand * 2 ** (1 - bias - significandBits);
  return sign * (1 + significand / 2 ** significandBits) * 2 ** (exponent - bias);
}
