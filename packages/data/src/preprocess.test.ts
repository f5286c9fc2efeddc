import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataIndexRangeError, InvalidDataOptionError } from './errors.ts';
import { FASHION_MNIST_FILES, FASHION_MNIST_SYSTEM_DIR } from './fashion-mnist-files.ts';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, gatherLabels, preprocessBatch } from './preprocess.ts';
import { readIdxFile } from './read-dir.ts';
import { bilinearResizer, resizeBilinear } from './resize.ts';

const SIZE = 28;
const PIXELS = SIZE * SIZE;
let images: Uint8Array;
let labels: Uint8Array;

beforeAll(async () => {
  // The real test split (10,000 images) is small enough to read whole.
  const dir = FASHION_MNIST_SYSTEM_DIR;
  images = (await readIdxFile(join(dir, `${FASHION_MNIST_FILES.testImages.name}.gz`))).data;
  labels = (await readIdxFile(join(dir, `${FASHION_MNIST_FILES.testLabels.name}.gz`))).data;
});

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Image b of an NHWC batch of side `size`, as rows of numbers. */
function imageOf(batch: Float32Array, b: number, size: number): number[][] {
  return range(size).map((y) => Array.from(batch.subarray(b * size * size + y * size, b * size * size + (y + 1) * size)));
}

describe('preprocessBatch', () => {
  it('scales each byte to [0, 1] and normalises with the given mean and std, in NHWC order', () => {
    const indices = [3, 0, 9_999];
    const batch = preprocessBatch(images, SIZE, SIZE, indices, { mean: 0.5, std: 0.25 });
    expect(batch.length).toBe(3 * PIXELS);
    indices.forEach((index, b) => {
      for (const p of [0, 100, 400, 783]) {
        const byte = images[index * PIXELS + p] as number;
        expect(batch[b * PIXELS + p]).toBeCloseTo((byte / 255 - 0.5) / 0.25, 5);
      }
    });
  });

  it('keeps values in [0, 1] without normalisation, reaching both ends on real images', () => {
    const batch = preprocessBatch(images, SIZE, SIZE, range(100), { mean: 0, std: 1 });
    let min = Infinity;
    let max = -Infinity;
    for (const v of batch) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it("normalises real images to about zero mean and unit variance with Fashion-MNIST's defaults", () => {
    const batch = preprocessBatch(images, SIZE, SIZE, range(10_000));
    let sum = 0;
    let sumSquares = 0;
    for (const v of batch) {
      sum += v;
      sumSquares += v * v;
    }
    const mean = sum / batch.length;
    const std = Math.sqrt(sumSquares / batch.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    expect(Math.min(...batch.subarray(0, PIXELS))).toBeCloseTo(-FASHION_MNIST_MEAN / FASHION_MNIST_STD, 5);
  });

  it('resizes a hand-made 2×2 image to 4×4 bilinearly with half-pixel centres', () => {
    const tiny = Uint8Array.of(0, 255, 255, 255);
    const batch = preprocessBatch(tiny, 2, 2, [0], { imageSize: 4, mean: 0, std: 1 });
    // Columns and rows sample the input at −0.25 (clamped to 0), 0.25, 0.75 and 1.25 (clamped to 1).
    const expected = [
      [0, 0.25, 0.75, 1],
      [0.25, 0.4375, 0.8125, 1],
      [0.75, 0.8125, 0.9375, 1],
      [1, 1, 1, 1],
    ];
    imageOf(batch, 0, 4).forEach((row, y) => row.forEach((v, x) => expect(v).toBeCloseTo(expected[y]?.[x] as number, 5)));
  });

  it('resizes real images to 96×96 like resizing their normalised pixels', () => {
    const batch = preprocessBatch(images, SIZE, SIZE, [7, 8], { imageSize: 96 });
    expect(batch.length).toBe(2 * 96 * 96);
    const normalised = new Float32Array(PIXELS);
    for (let p = 0; p < PIXELS; p++) {
      normalised[p] = ((images[8 * PIXELS + p] as number) / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
    }
    const expected = new Float32Array(96 * 96);
    resizeBilinear(bilinearResizer(SIZE, SIZE, 96, 96), normalised, expected);
    const second = batch.subarray(96 * 96);
    for (let i = 0; i < expected.length; i += 97) expect(second[i]).toBeCloseTo(expected[i] as number, 5);
  });

  it('augments each sample the same way whatever its batch, and differently in another epoch', () => {
    const augment = { seed: 17, epoch: 3 };
    const alone = preprocessBatch(images, SIZE, SIZE, [42], { augment });
    const inBatch = preprocessBatch(images, SIZE, SIZE, [5, 42, 6], { augment });
    expect(inBatch.subarray(PIXELS, 2 * PIXELS)).toEqual(alone);

    const indices = range(32);
    const epoch3 = preprocessBatch(images, SIZE, SIZE, indices, { augment });
    const again = preprocessBatch(images, SIZE, SIZE, indices, { augment });
    const epoch4 = preprocessBatch(images, SIZE, SIZE, indices, { augment: { seed: 17, epoch: 4 } });
    expect(again).toEqual(epoch3);
    const changed = indices.filter((b) => {
      const a = epoch3.subarray(b * PIXELS, (b + 1) * PIXELS);
      const c = epoch4.subarray(b * PIXELS, (b + 1) * PIXELS);
      return a.some((v, i) => v !== c[i]);
    });
    expect(changed.length).toBeGreaterThan(24);
  });

  it('flips about half of the images horizontally, each exactly mirrored', () => {
    const indices = range(64);
    const plain = preprocessBatch(images, SIZE, SIZE, indices);
    const flipped = preprocessBatch(images, SIZE, SIZE, indices, { augment: { seed: 1, epoch: 0, cropPaddingPx: 0 } });
    let mirrored = 0;
    for (let b = 0; b < indices.length; b++) {
      const original = imageOf(plain, b, SIZE);
      const out = imageOf(flipped, b, SIZE);
      const mirror = original.map((row) => [...row].reverse());
      if (JSON.stringify(out) === JSON.stringify(original)) continue;
      expect(out).toEqual(mirror);
      mirrored++;
    }
    expect(mirrored).toBeGreaterThan(16);
    expect(mirrored).toBeLessThan(48);
  });

  it('with alternating flips, shows each image on the other side every epoch, half of them mirrored in epoch 0', () => {
    const indices = range(64);
    const plain = preprocessBatch(images, SIZE, SIZE, indices);
    const epochs = [0, 1, 2, 5].map((epoch) => preprocessBatch(images, SIZE, SIZE, indices, { augment: { seed: 1, epoch, cropPaddingPx: 0, alternateFlips: true } }));
    const isMirrored = (batch: Float32Array, b: number): boolean => {
      const original = imageOf(plain, b, SIZE);
      const out = imageOf(batch, b, SIZE);
      if (JSON.stringify(out) === JSON.stringify(original)) return false;
      expect(out).toEqual(original.map((row) => [...row].reverse()));
      return true;
    };
    let mirroredAtStart = 0;
    for (let b = 0; b < indices.length; b++) {
      const [e0, e1, e2, e5] = epochs.map((batch) => isMirrored(batch as Float32Array, b));
      expect(e1).toBe(!e0);
      expect(e2).toBe(e0);
      expect(e5).toBe(e1);
      if (e0 === true) mirroredAtStart++;
    }
    expect(mirroredAtStart).toBeGreaterThan(16);
    expect(mirroredAtStart).toBeLessThan(48);
  });

  it('crops from a padded image: each output is its image shifted by at most the padding', () => {
    const indices = range(40);
    const padding = 4;
    const plain = preprocessBatch(images, SIZE, SIZE, indices);
    const background = -FASHION_MNIST_MEAN / FASHION_MNIST_STD;
    const cropped = preprocessBatch(images, SIZE, SIZE, indices, {
      augment: { seed: 2, epoch: 0, cropPaddingPx: padding, flip: false },
    });
    const shifts = new Set<string>();
    for (let b = 0; b < indices.length; b++) {
      const original = imageOf(plain, b, SIZE);
      const out = imageOf(cropped, b, SIZE);
      const found: string[] = [];
      for (let dy = -padding; dy <= padding; dy++) {
        for (let dx = -padding; dx <= padding; dx++) {
          const matches = out.every((row, y) =>
            row.every((v, x) => {
              const source = original[y + dy]?.[x + dx];
              return Math.abs(v - (source ?? background)) < 1e-6;
            }),
          );
          if (matches) found.push(`${dy},${dx}`);
        }
      }
      expect(found.length).toBeGreaterThan(0);
      shifts.add(found[0] as string);
    }
    // Forty draws from 81 offsets: many distinct shifts, not a fixed one.
    expect(shifts.size).toBeGreaterThan(10);
    expect(cropped).not.toEqual(plain);
  });

  it('crops and flips at the resized size', () => {
    const batch = preprocessBatch(images, SIZE, SIZE, range(4), { imageSize: 32, augment: { seed: 0, epoch: 1 } });
    expect(batch.length).toBe(4 * 32 * 32);
    expect(batch.every(Number.isFinite)).toBe(true);
  });

  it('writes into a given buffer of the right size and rejects one of the wrong size', () => {
    const out = new Float32Array(2 * PIXELS);
    expect(preprocessBatch(images, SIZE, SIZE, [0, 1], { out })).toBe(out);
    expect(() => preprocessBatch(images, SIZE, SIZE, [0], { out })).toThrowError(InvalidDataOptionError);
  });

  it('rejects an index outside the images, naming it and its position', () => {
    expect(() => preprocessBatch(images, SIZE, SIZE, [0, 10_000])).toThrowError(DataIndexRangeError);
    expect(() => preprocessBatch(images, SIZE, SIZE, [0, 10_000])).toThrowError(
      'index 10000 at batch position 1 is not an image (the data set has 10000)',
    );
    expect(() => preprocessBatch(images, SIZE, SIZE, [-1])).toThrowError(DataIndexRangeError);
  });

  it('rejects sizes that do not describe the bytes and a zero std', () => {
    expect(() => preprocessBatch(images, 27, SIZE, [0])).toThrowError(InvalidDataOptionError);
    expect(() => preprocessBatch(new Uint8Array(6), 2, 3, [0])).toThrowError('imageSize is required for non-square 2×3 images');
    expect(() => preprocessBatch(images, SIZE, SIZE, [0], { std: 0 })).toThrowError(InvalidDataOptionError);
  });

  it('returns an empty batch for no indices', () => {
    expect(preprocessBatch(images, SIZE, SIZE, []).length).toBe(0);
  });
});

describe('gatherLabels', () => {
  it('gathers the labels of a batch in batch order', () => {
    const out = gatherLabels(labels, [9, 0, 9]);
    expect(out).toBeInstanceOf(Int32Array);
    expect(Array.from(out)).toEqual([labels[9], labels[0], labels[9]]);
  });

  it('rejects an index outside the labels', () => {
    expect(() => gatherLabels(labels, [10_000])).toThrowError(DataIndexRangeError);
  });
});
