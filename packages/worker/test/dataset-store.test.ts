import { describe, expect, it } from 'vitest';
import type { DatasetMessage } from '@ringtrain/protocol';
import { DatasetStore, MissingDataError, RefusedMessageError } from '../src/index.ts';

function chunk(indices: number[], rows = 2, cols = 2): DatasetMessage {
  const pixels = rows * cols;
  const images = new Uint8Array(indices.length * pixels);
  indices.forEach((index, i) => images.fill(index % 256, i * pixels, (i + 1) * pixels));
  return { v: 1, type: 'dataset', generation: 1, split: 'train', rows, cols, indices: Uint32Array.from(indices), images, labels: Uint8Array.from(indices.map((i) => i % 10)) };
}

describe('the store of images a worker was sent', () => {
  it('keeps each image at its data-set index, whatever order the chunks come in', () => {
    const store = new DatasetStore('train');
    store.add(chunk([7, 3]));
    store.add(chunk([0, 12]));
    expect(store.size).toBe(4);
    for (const index of [0, 3, 7, 12]) {
      expect([...store.images.subarray(index * 4, index * 4 + 4)]).toEqual([index, index, index, index]);
      expect(store.labels[index]).toBe(index % 10);
    }
    expect(() => store.requireAll([0, 3, 7, 12], 'a plan')).not.toThrow();
  });

  it('names the first image a plan needs that never arrived', () => {
    const store = new DatasetStore('train');
    store.add(chunk([1, 2]));
    expect(() => store.requireAll([1, 5, 2], 'the plan of epoch 0')).toThrow(MissingDataError);
    expect(() => store.requireAll([1, 5, 2], 'the plan of epoch 0')).toThrow('the plan of epoch 0 needs train image 5');
  });

  it('counts an image sent twice once', () => {
    const store = new DatasetStore('train');
    store.add(chunk([4]));
    store.add(chunk([4]));
    expect(store.size).toBe(1);
  });

  it('refuses a chunk whose byte count contradicts its indices', () => {
    const store = new DatasetStore('train');
    const bad = { ...chunk([1, 2]), images: new Uint8Array(5) };
    expect(() => store.add(bad)).toThrow(RefusedMessageError);
    expect(() => store.add(bad)).toThrow('announces 2 images but holds 5 image bytes');
  });

  it('refuses images of another size than the ones before', () => {
    const store = new DatasetStore('train');
    store.add(chunk([1]));
    expect(() => store.add(chunk([2], 3, 3))).toThrow('3×3 images follows 2×2 ones');
  });
});
