import { describe, expect, it } from 'vitest';
import { ChunkArena, addInto, simdAddAvailable } from '../../src/allreduce/add-into.ts';
import { bitIdentical, rankVector } from './vectors.ts';

/** The reference: each sum rounded to float32, element by element. */
function referenceSum(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => Math.fround(x + (b[i] as number)));
}

describe('addInto', () => {
  it('uses WebAssembly SIMD on this Node', () => {
    expect(simdAddAvailable).toBe(true);
  });

  it.each([0, 1, 3, 1023, 1024, 1027, 65_536, 65_536 * 2 + 5, 300_001])('adds %i elements bit-identically to the scalar float32 sum', (length) => {
    const a = rankVector(length, 0, 42).map((x) => x * 1e3);
    const b = rankVector(length, 1, 42);
    const expected = referenceSum(a, b);
    const target = a.slice();
    addInto(target, b);
    expect(bitIdentical(target, expected)).toBe(true);
  });

  it('follows IEEE 754 for infinities, NaN and signed zeros', () => {
    const specials = [Infinity, -Infinity, NaN, -0, 0, 3.4e38, -3.4e38, 1e-45];
    const a = Float32Array.from({ length: 2048 }, (_, i) => specials[i % specials.length] as number);
    const b = Float32Array.from({ length: 2048 }, (_, i) => specials[(i * 3 + 1) % specials.length] as number);
    const target = a.slice();
    addInto(target, b);
    const expected = referenceSum(a, b);
    for (let i = 0; i < target.length; i++) {
      if (Number.isNaN(expected[i])) expect(Number.isNaN(target[i])).toBe(true);
      else expect(Object.is(target[i], expected[i])).toBe(true);
    }
  });

  it('adds into a view at an offset without touching its neighbours', () => {
    const backing = new Float32Array(10_000).fill(1);
    addInto(backing.subarray(1_001, 9_001), new Float32Array(8_000).fill(2));
    expect([backing[1_000], backing[1_001], backing[9_000], backing[9_001]]).toEqual([1, 3, 3, 1]);
  });
});

describe('ChunkArena', () => {
  it('hands out its regions once each until they are released', () => {
    const arena = new ChunkArena(1000, 2);
    const first = arena.acquireView();
    const second = arena.acquireView();
    expect(first?.byteLength).toBe(1008);
    expect(second?.buffer).toBe(first?.buffer);
    expect(arena.acquireView()).toBeUndefined();
    expect(arena.release(first as Uint8Array)).toBe(true);
    expect(arena.acquireView()?.byteOffset).toBe(first?.byteOffset);
    expect(arena.release(new Float32Array(4))).toBe(false);
  });

  it('adds a source that lies in the arena exactly as any other source', () => {
    const length = 70_001;
    const arena = new ChunkArena(length * 4, 1);
    const region = arena.acquireView() as Uint8Array;
    const source = new Float32Array(region.buffer, region.byteOffset, length);
    source.set(rankVector(length, 3, 8));
    const target = rankVector(length, 4, 8);
    const expected = referenceSum(target, source);
    addInto(target, source);
    expect(bitIdentical(target, expected)).toBe(true);
  });
});
