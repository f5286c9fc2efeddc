import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Xoshiro128, randomPermutation } from './prng.ts';

function draw(words: number[], count: number): number[] {
  const rng = new Xoshiro128(words);
  return Array.from({ length: count }, () => rng.nextUint32());
}

describe('Xoshiro128', () => {
  it('draws the same stream from the same seed words', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 4 }), (words) => {
        expect(draw(words, 8)).toEqual(draw(words, 8));
      }),
    );
  });

  it('draws different streams from seed words that differ anywhere, even beyond 32 bits', () => {
    const base = draw([2, 7, 3, 1], 4);
    expect(draw([2, 7, 3, 2], 4)).not.toEqual(base);
    expect(draw([2, 8, 3, 1], 4)).not.toEqual(base);
    expect(draw([2, 7, 3], 4)).not.toEqual(draw([2, 7, 3, 0], 4));
    expect(draw([2 ** 32], 4)).not.toEqual(draw([0], 4));
  });

  it('draws unsigned 32-bit integers and floats in [0, 1)', () => {
    const rng = new Xoshiro128([1]);
    for (let i = 0; i < 10_000; i++) {
      const u = rng.nextUint32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });

  it('draws integers below n roughly uniformly', () => {
    const rng = new Xoshiro128([42]);
    const counts = new Array<number>(7).fill(0);
    const draws = 70_000;
    for (let i = 0; i < draws; i++) {
      const k = rng.nextBelow(7);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    // Chi-square with 6 degrees of freedom; 22.46 is the 0.999 quantile.
    const expected = draws / 7;
    const chiSquare = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(22.46);
  });
});

describe('randomPermutation', () => {
  it.each([0, 1, 2, 7, 1000])('returns a permutation of 0..%i-1', (n) => {
    const order = randomPermutation(n, new Xoshiro128([n]));
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('puts every element in every position about equally often', () => {
    const n = 4;
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const trials = 8_000;
    for (let t = 0; t < trials; t++) {
      const order = randomPermutation(n, new Xoshiro128([9, t]));
      order.forEach((value, position) => {
        (counts[position] as number[])[value] = ((counts[position] as number[])[value] ?? 0) + 1;
      });
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - trials / n)).toBeLessThan(trials / n / 8);
  });
});
