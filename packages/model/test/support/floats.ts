import { expect } from 'vitest';

/** Asserts two float arrays hold the same bits (fast, unlike a deep equality on typed arrays). */
export function expectBitIdentical(actual: ArrayBufferView, expected: ArrayBufferView, what = 'arrays'): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  expect(a.length, `${what}: byte length`).toBe(b.length);
  expect(a.equals(b), `${what}: bits differ`).toBe(true);
}

export function bitIdentical(actual: ArrayBufferView, expected: ArrayBufferView): boolean {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  return a.equals(b);
}

/** Largest |actual − expected| over the arrays, relative to the largest |expected|. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return difference / scale;
}
