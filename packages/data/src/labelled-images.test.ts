import { describe, expect, it } from 'vitest';
import { DataBadLabelError, DataCountMismatchError, IdxBadDimensionsError, InvalidDataOptionError } from './errors.ts';
import { pairImagesWithLabels, takeFirst } from './labelled-images.ts';

const names = { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' };

function images(count: number, rows = 2, cols = 2) {
  return { dims: [count, rows, cols], data: Uint8Array.from({ length: count * rows * cols }, (_, i) => i % 256) };
}

function labels(values: number[]) {
  return { dims: [values.length], data: Uint8Array.from(values) };
}

describe('pairImagesWithLabels', () => {
  it('pairs images with labels and reports their shape', () => {
    const split = pairImagesWithLabels(images(3, 2, 4), labels([1, 2, 9]), names, 10);
    expect(split.count).toBe(3);
    expect(split.rows).toBe(2);
    expect(split.cols).toBe(4);
    expect(split.images.length).toBe(24);
    expect(Array.from(split.labels)).toEqual([1, 2, 9]);
  });

  it('names both files and both counts when they disagree', () => {
    expect(() => pairImagesWithLabels(images(3), labels([1, 2]), names, 10)).toThrowError(DataCountMismatchError);
    expect(() => pairImagesWithLabels(images(3), labels([1, 2]), names, 10)).toThrowError(
      'train-images-idx3-ubyte.gz has 3 images but train-labels-idx1-ubyte.gz has 2 labels',
    );
  });

  it('rejects a label at or above the class count, naming the file and the position', () => {
    expect(() => pairImagesWithLabels(images(3), labels([1, 10, 2]), names, 10)).toThrowError(DataBadLabelError);
    expect(() => pairImagesWithLabels(images(3), labels([1, 10, 2]), names, 10)).toThrowError(
      /train-labels-idx1-ubyte\.gz: label 10 at index 1/,
    );
  });

  it('rejects an images file that is not three-dimensional', () => {
    const flat = { dims: [4], data: new Uint8Array(4) };
    expect(() => pairImagesWithLabels(flat, labels([1, 2, 3, 4]), names, 10)).toThrowError(IdxBadDimensionsError);
  });
});

describe('takeFirst', () => {
  const split = pairImagesWithLabels(images(5), labels([0, 1, 2, 3, 4]), names, 10);

  it.each([0, 1, 3])('keeps the first %i examples as views', (limit) => {
    const cut = takeFirst(split, limit);
    expect(cut.count).toBe(limit);
    expect(Array.from(cut.labels)).toEqual([0, 1, 2, 3, 4].slice(0, limit));
    expect(cut.images.length).toBe(limit * 4);
    expect(cut.images.buffer).toBe(split.images.buffer);
  });

  it('keeps everything when the limit is absent or larger than the split', () => {
    expect(takeFirst(split, undefined)).toBe(split);
    expect(takeFirst(split, 99)).toBe(split);
  });

  it('rejects a negative or fractional limit', () => {
    expect(() => takeFirst(split, -1)).toThrowError(InvalidDataOptionError);
    expect(() => takeFirst(split, 1.5)).toThrowError(InvalidDataOptionError);
  });
});
