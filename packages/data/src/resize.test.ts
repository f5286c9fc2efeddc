import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bilinearResizer, resizeBilinear } from './resize.ts';

function resize(src: number[], inRows: number, inCols: number, outRows: number, outCols: number): number[] {
  const dst = new Float32Array(outRows * outCols);
  resizeBilinear(bilinearResizer(inRows, inCols, outRows, outCols), Float32Array.from(src), dst);
  return Array.from(dst);
}

describe('resizeBilinear', () => {
  it('upsamples 2×2 to 4×4 with half-pixel centres, as worked out by hand', () => {
    // Output i samples input (i + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    // Row [0, 100] becomes [0, 25, 75, 100]; row [200, 40] becomes [200, 160, 80, 40]; rows mix likewise.
    const out = resize([0, 100, 200, 40], 2, 2, 4, 4);
    const expected = [
      [0, 25, 75, 100],
      [50, 58.75, 76.25, 85],
      [150, 126.25, 78.75, 55],
      [200, 160, 80, 40],
    ].flat();
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 4));
  });

  it('downsamples by two to the mean of each 2×2 block', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }), (pixels) => {
        const out = resize(pixels, 4, 4, 2, 2);
        for (let y = 0; y < 2; y++) {
          for (let x = 0; x < 2; x++) {
            const at = (r: number, c: number): number => pixels[r * 4 + c] as number;
            const mean = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
            expect(out[y * 2 + x]).toBeCloseTo(mean, 3);
          }
        }
      }),
    );
  });

  it('leaves an image unchanged at its own size', () => {
    const pixels = Array.from({ length: 15 }, (_, i) => (i * 37) % 256);
    expect(resize(pixels, 3, 5, 3, 5)).toEqual(pixels);
  });

  it('keeps every output within the range of the input at any pair of sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 1000 }),
        (inRows, inCols, outRows, outCols, salt) => {
          const pixels = Array.from({ length: inRows * inCols }, (_, i) => ((i + 1) * (salt + 13)) % 256);
          const out = resize(pixels, inRows, inCols, outRows, outCols);
          const lo = Math.min(...pixels);
          const hi = Math.max(...pixels);
          for (const v of out) expect(v >= lo - 1e-3 && v <= hi + 1e-3).toBe(true);
        },
      ),
    );
  });
});
