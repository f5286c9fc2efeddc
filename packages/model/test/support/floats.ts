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
