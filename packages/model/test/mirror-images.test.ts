import { describe, expect, it } from 'vitest';

import { mirrorImages } from '../src/mirror-images.ts';

describe('mirrorImages', () => {
  it('reverses the columns of every row of every image, keeping each pixel\'s channels together', () => {
    // 2 images, 3×3, 2 channels: value = image·100 + row·10 + column, channel c adds 0.5·c.
    const count = 2;
    const size = 3;
    const channels = 2;
    const pixels = new Float32Array(count * size * size * channels);
    const at = (n: number, y: number, x: number, c: number): number => ((n * size + y) * size + x) * channels + c;
    for (let n = 0; n < count; n++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          for (let c = 0; c < channels; c++) pixels[at(n, y, x, c)] = n * 100 + y * 10 + x + 0.5 * c;
        }
      }
    }
    const mirrored = mirrorImages(pixels, count, size, channels);
    for (let n = 0; n < count; n++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          for (let c = 0; c < channels; c++) expect(mirrored[at(n, y, x, c)]).toBe(n * 100 + y * 10 + (size - 1 - x) + 0.5 * c);
        }
      }
    }
    expect(mirrorImages(mirrored, count, size, channels)).toEqual(pixels);
  });

  it('refuses an array that is not the batch it is said to be', () => {
    expect(() => mirrorImages(new Float32Array(17), 2, 3, 1)).toThrow(/17 values are not 2 images of 3×3×1/);
  });
});
